#include "net/detail/curl_errors.hpp"

#include <cerrno>

namespace troupe::net::detail {

namespace {

curl_failure conn(connection_error c) {
  return {transport_error::connection, c};
}

curl_failure of(transport_error e) {
  return {e, connection_error::none};
}

} // namespace

curl_failure classify(CURLcode code, long os_errno) {
  switch (code) {
    case CURLE_OK:
      return of(transport_error::none);
    case CURLE_OPERATION_TIMEDOUT:
      return of(transport_error::timeout);
    case CURLE_COULDNT_CONNECT:
      // The same code covers ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ...;
      // only a refusal says "nobody listens there".
      return conn(os_errno == ECONNREFUSED ? connection_error::refused
                                           : connection_error::other);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return conn(connection_error::dns);
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      return conn(connection_error::reset);
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
      return conn(connection_error::closed);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
      return conn(connection_error::tls);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_TOO_MANY_REDIRECTS:
      return of(transport_error::protocol);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_UNKNOWN_OPTION:
      return of(transport_error::invalid);
    case CURLE_ABORTED_BY_CALLBACK:
      return of(transport_error::canceled);
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
    case CURLE_WRITE_ERROR:
    case CURLE_READ_ERROR:
    case CURLE_UNRECOVERABLE_POLL:
      return of(transport_error::internal);
    default:
      // Every other code of an HTTP transfer is trouble on the way (proxy
      // refusals, interface binding, ...): the message names it.
      return conn(connection_error::other);
  }
}

} // namespace troupe::net::detail
