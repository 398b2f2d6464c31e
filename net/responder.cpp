#include "net/detail/server_connection.hpp"
#include "net/http_server.hpp"

namespace troupe::net {

responder::responder(std::shared_ptr<detail::connection> conn, uint64_t request_no)
  : conn_(std::move(conn)), request_no_(request_no) {
}

responder::responder(responder&& other) noexcept
  : conn_(std::move(other.conn_)), request_no_(other.request_no_),
    used_(other.used_.exchange(true)) {
}

responder& responder::operator=(responder&& other) noexcept {
  if (this != &other) {
    answer_unused();
    conn_ = std::move(other.conn_);
    request_no_ = other.request_no_;
    used_.store(other.used_.exchange(true));
  }
  return *this;
}

responder::~responder() {
  answer_unused();
}

void responder::answer_unused() {
  if (used_.exchange(true) || !conn_)
    return;
  conn_->post_reply(request_no_, problem(500, "internal-error", "Internal server error",
                                         "the handler did not answer the request"));
}

void responder::reply(server_response r) {
  if (used_.exchange(true) || !conn_)
    return;
  conn_->post_reply(request_no_, std::move(r));
}

std::shared_ptr<sse_stream> responder::stream(header_list extra) {
  if (used_.exchange(true) || !conn_)
    return detail::connection::closed_stream();
  return conn_->open_stream(request_no_, std::move(extra));
}

} // namespace troupe::net
