// The one compiled instance of standalone Asio (ASIO_SEPARATE_COMPILATION),
// so that every other file includes only declarations and builds faster.
#include <asio/impl/src.hpp>
#include <asio/ssl/impl/src.hpp>
