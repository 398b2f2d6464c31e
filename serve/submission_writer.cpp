#include "serve/submission_writer.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace troupe::serve {

namespace {
constexpr size_t max_batch = 512;
} // namespace

struct submission_writer::impl {
  persistence::job_store store;
  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  std::vector<std::pair<jobs::job, submission_done>> waiting; // guarded by mu
  std::thread thread;

  explicit impl(persistence::job_store s) : store(std::move(s)) {}

  void commit(std::vector<std::pair<jobs::job, submission_done>>& batch) {
    std::vector<jobs::job> rows;
    rows.reserve(batch.size());
    for (auto& [j, done] : batch)
      rows.push_back(j);
    auto stored = store.insert(std::move(rows));
    for (size_t i = 0; i < batch.size(); ++i) {
      if (stored)
        batch[i].second(std::move((*stored)[i]));
      else
        batch[i].second(stored.error());
    }
  }

  void loop() {
    std::unique_lock<std::mutex> lock{mu};
    while (true) {
      wake.wait(lock, [&] { return stopping || !waiting.empty(); });
      if (waiting.empty())
        return; // stopping, and everything committed
      std::vector<std::pair<jobs::job, submission_done>> batch;
      auto n = std::min(max_batch, waiting.size());
      batch.assign(std::make_move_iterator(waiting.begin()),
                   std::make_move_iterator(waiting.begin() + static_cast<long>(n)));
      waiting.erase(waiting.begin(), waiting.begin() + static_cast<long>(n));
      lock.unlock();
      commit(batch);
      lock.lock();
    }
  }
};

submission_writer::submission_writer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

submission_writer::~submission_writer() {
  {
    std::lock_guard<std::mutex> guard{impl_->mu};
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

caf::expected<std::unique_ptr<submission_writer>>
submission_writer::start(const std::string& db_path) {
  auto store = persistence::job_store::open(db_path);
  if (!store)
    return std::move(store.error());
  auto p = std::make_unique<impl>(std::move(*store));
  auto* raw = p.get();
  p->thread = std::thread([raw] { raw->loop(); });
  return std::unique_ptr<submission_writer>(new submission_writer(std::move(p)));
}

void submission_writer::submit(jobs::job j, submission_done done) {
  {
    std::lock_guard<std::mutex> guard{impl_->mu};
    impl_->waiting.emplace_back(std::move(j), std::move(done));
  }
  impl_->wake.notify_one();
}

} // namespace troupe::serve
