// A Beast body for uploads: the bytes go to a file as they arrive and
// through SHA-256 on the way, so a claimed digest is checked without
// reading the file back. Only a reader (parsing requests); a server never
// sends one of these.
#pragma once

#include "graceful/support/digest.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/file.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace graceful::server {

struct HashingFileBody {
  struct value_type {
    boost::beast::file file;
    // Made fresh by the reader, so one value can take one upload.
    std::unique_ptr<Sha256Hasher> hasher;
    // Filled in once the body is complete.
    FileDigest received;
  };

  class reader {
  public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields> &, value_type &body) : body_(body) {}

    void init(const boost::optional<std::uint64_t> &, boost::beast::error_code &ec) {
      body_.hasher = std::make_unique<Sha256Hasher>();
      body_.received = {};
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence &buffers, boost::beast::error_code &ec) {
      std::size_t taken = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers); ++it) {
        boost::asio::const_buffer buffer = *it;
        const char *bytes = static_cast<const char *>(buffer.data());
        // Beast's file writes all it is given or fails.
        std::size_t written = body_.file.write(bytes, buffer.size(), ec);
        if (!ec && written != buffer.size())
          ec = boost::system::errc::make_error_code(boost::system::errc::io_error);
        if (ec)
          return taken + written;
        body_.hasher->update({bytes, buffer.size()});
        taken += buffer.size();
      }
      body_.received.sizeBytes += static_cast<std::int64_t>(taken);
      return taken;
    }

    void finish(boost::beast::error_code &ec) {
      body_.received.digest = body_.hasher->finish();
      body_.hasher.reset();
      ec = {};
    }

  private:
    value_type &body_;
  };
};

} // namespace graceful::server
