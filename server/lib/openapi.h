// The OpenAPI 3.1 document of /api/v1/ (docs/schemas/openapi.json, which
// scripts/json-schemas generates from the protos), built into the server.
#pragma once

#include <string_view>

namespace graceful::server {

std::string_view openApiDocument();

} // namespace graceful::server
