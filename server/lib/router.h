// Requests to responses, apart from the network: the routes of /api/v1/
// and the health, metrics and OpenAPI documents. Each route authenticates,
// checks the grant and calls the operations library.
#pragma once

#include "graceful/server/server.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "metrics.h"
#include "store_pool.h"

#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace graceful::server {

struct Request {
  boost::beast::http::verb method;
  std::string target; // path and query, as received
  std::string authorization;
  std::string body;          // JSON bodies
  std::string uploadPath;    // an upload's body, streamed to this file
  FileDigest uploadReceived; // its digest and size, computed as it arrived
  std::string uploadDigest;  // X-Graceful-Digest the client claims for it, if any
  std::string datasetFiles;  // X-Graceful-Dataset-Files: a dataset upload's manifest
  std::string range;         // the Range header of a download, if any
  std::string ifRange;       // its If-Range (an ETag), if any
};

struct Response {
  boost::beast::http::status status = boost::beast::http::status::ok;
  std::string body;
  std::string contentType = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is this file's bytes (downloads); it is removed
  // once opened.
  std::string filePath;
};

// A path split into its decoded segments and query parameters.
struct ParsedTarget {
  std::vector<std::string> segments;
  std::multimap<std::string, std::string> query;
};
llvm::Expected<ParsedTarget> parseTarget(const std::string &target);

// Whether a request's body is an upload (streamed to a file) rather than
// JSON; decided from the header alone, before the body is read.
bool isUpload(boost::beast::http::verb method, const std::string &target);

// The route pattern a request matched, for metrics ("GET /api/v1/models/{name}").
std::string routeName(boost::beast::http::verb method, const std::string &target);

class Router {
public:
  Router(const ServerOptions &options, StorePool &stores, Metrics &metrics)
      : options_(options), stores_(stores), metrics_(metrics) {}

  Response handle(const Request &request);
  // Whether to read an upload's body at all: the refusal (401, 403) when
  // the token may not upload here, before a byte of it is stored.
  std::optional<Response> admitUpload(const Request &request);
  // A refusal made before routing (limits, malformed HTTP), in the same
  // JSON form as every other error.
  static Response error(boost::beast::http::status status, ErrorKind kind,
                        const std::string &message);

private:
  const ServerOptions &options_;
  StorePool &stores_;
  Metrics &metrics_;
};

} // namespace graceful::server
