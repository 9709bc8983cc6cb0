// What the report renderers share.
#pragma once

#include "graceful/registry.pb.h"

#include <string>
#include <utility>
#include <vector>

namespace graceful::gates {

// & < > " ' as entities, for HTML and XML text and attributes. Control
// characters and invalid UTF-8 become \xNN text first (escapeUnprintable):
// XML 1.0 allows most of them not even as character references, and a JUnit
// file with one is refused whole by CI servers.
std::string escapeMarkup(const std::string &text);

// Text for a Markdown paragraph or table cell: control characters as \xNN
// (so nothing can start a line: a heading, a list, an HTML block), and
// every character with inline meaning backslash-escaped, so `<!--`, links,
// emphasis and `|` cell breaks show as typed.
std::string escapeMarkdown(const std::string &text);

// `text` as one Markdown code span, with a fence longer than any run of
// backticks inside it.
std::string markdownCode(const std::string &text);

} // namespace graceful::gates
