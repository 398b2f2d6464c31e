#pragma once
// tenant_store's connection (tenant_store.cpp, audit_log.cpp).

#include <memory>

#include "persistence/detail/side_connection.hpp"
#include "persistence/tenant_store.hpp"

namespace troupe::persistence {

struct tenant_store::impl {
  std::unique_ptr<detail::side_connection> c;
};

} // namespace troupe::persistence
