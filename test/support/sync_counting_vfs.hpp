#pragma once
// A SQLite VFS that wraps the default one and counts xSync calls on WAL
// files: what a commit forces to disk. A connection under
// synchronous=NORMAL commits into the WAL without syncing it (a power loss
// may take the commit back); under FULL every commit syncs the WAL. Tests
// install it as the process's default VFS, so every connection opened after
// that (the stores' own) goes through it.

#include <atomic>
#include <cstring>
#include <string>

#include <boost/test/unit_test.hpp>
#include <sqlite3.h>

namespace troupe::test {

class sync_counting_vfs {
public:
  /// Registers the VFS as the default; connections opened earlier keep theirs.
  sync_counting_vfs() {
    base_ = sqlite3_vfs_find(nullptr);
    BOOST_REQUIRE(base_ != nullptr);
    self() = this;
    vfs_ = *base_;
    vfs_.zName = "troupe-sync-counting";
    vfs_.szOsFile = static_cast<int>(sizeof(file) + static_cast<size_t>(base_->szOsFile));
    vfs_.xOpen = &open_file;
    BOOST_REQUIRE(sqlite3_vfs_register(&vfs_, 1) == SQLITE_OK);
  }
  ~sync_counting_vfs() {
    sqlite3_vfs_register(base_, 1);
    sqlite3_vfs_unregister(&vfs_);
    self() = nullptr;
  }
  sync_counting_vfs(const sync_counting_vfs&) = delete;
  sync_counting_vfs& operator=(const sync_counting_vfs&) = delete;

  /// xSync calls on "-wal" files since the VFS was installed.
  int wal_syncs() const { return wal_syncs_.load(); }

private:
  // Our file object, followed in the same allocation by the base VFS's.
  struct file {
    sqlite3_file base; ///< methods = ours
    sqlite3_io_methods methods;
    bool is_wal;
    sqlite3_file* inner() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  };

  static sync_counting_vfs*& self() {
    static sync_counting_vfs* p = nullptr;
    return p;
  }

  static int sync(sqlite3_file* f, int flags) {
    auto* me = reinterpret_cast<file*>(f);
    if (me->is_wal && self() != nullptr)
      ++self()->wal_syncs_;
    return me->inner()->pMethods->xSync(me->inner(), flags);
  }

  static int open_file(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags,
                  int* out_flags) {
    auto* me = reinterpret_cast<file*>(f);
    auto* base = self()->base_;
    std::memset(me, 0, sizeof(file));
    auto rc = base->xOpen(base, name, me->inner(), flags, out_flags);
    if (rc != SQLITE_OK || me->inner()->pMethods == nullptr)
      return rc;
    me->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    // Every method as the base file's, but xSync counted first. Unused
    // method slots stay what the base file has (null or not), so SQLite sees
    // the same capabilities (the iVersion of the methods included).
    me->methods = *me->inner()->pMethods;
    me->methods.xSync = &sync;
    forward_all(me->methods);
    me->base.pMethods = &me->methods;
    return rc;
  }

  // Each method unwraps our file to the base one and calls the base method.
  template <auto Member, class... Args>
  static int call(sqlite3_file* f, Args... args) {
    auto* in = reinterpret_cast<file*>(f)->inner();
    return (in->pMethods->*Member)(in, args...);
  }

  static void forward_all(sqlite3_io_methods& m) {
    using M = sqlite3_io_methods;
    m.xClose = [](sqlite3_file* f) { return call<&M::xClose>(f); };
    m.xRead = [](sqlite3_file* f, void* p, int n, sqlite3_int64 o) {
      return call<&M::xRead>(f, p, n, o);
    };
    m.xWrite = [](sqlite3_file* f, const void* p, int n, sqlite3_int64 o) {
      return call<&M::xWrite>(f, p, n, o);
    };
    m.xTruncate = [](sqlite3_file* f, sqlite3_int64 n) { return call<&M::xTruncate>(f, n); };
    m.xFileSize = [](sqlite3_file* f, sqlite3_int64* n) { return call<&M::xFileSize>(f, n); };
    m.xLock = [](sqlite3_file* f, int l) { return call<&M::xLock>(f, l); };
    m.xUnlock = [](sqlite3_file* f, int l) { return call<&M::xUnlock>(f, l); };
    m.xCheckReservedLock = [](sqlite3_file* f, int* r) {
      return call<&M::xCheckReservedLock>(f, r);
    };
    m.xFileControl = [](sqlite3_file* f, int op, void* a) {
      return call<&M::xFileControl>(f, op, a);
    };
    m.xSectorSize = [](sqlite3_file* f) { return call<&M::xSectorSize>(f); };
    m.xDeviceCharacteristics = [](sqlite3_file* f) {
      return call<&M::xDeviceCharacteristics>(f);
    };
    if (m.iVersion >= 2) {
      m.xShmMap = [](sqlite3_file* f, int pg, int sz, int ext, void volatile** p) {
        return call<&M::xShmMap>(f, pg, sz, ext, p);
      };
      m.xShmLock = [](sqlite3_file* f, int o, int n, int fl) {
        return call<&M::xShmLock>(f, o, n, fl);
      };
      m.xShmBarrier = [](sqlite3_file* f) {
        auto* in = reinterpret_cast<file*>(f)->inner();
        in->pMethods->xShmBarrier(in);
      };
      m.xShmUnmap = [](sqlite3_file* f, int d) { return call<&M::xShmUnmap>(f, d); };
    }
    if (m.iVersion >= 3) {
      m.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
        return call<&M::xFetch>(f, o, n, p);
      };
      m.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) {
        return call<&M::xUnfetch>(f, o, p);
      };
    }
  }

  sqlite3_vfs* base_ = nullptr;
  sqlite3_vfs vfs_{};
  std::atomic<int> wal_syncs_{0};
};

} // namespace troupe::test
