// Webhook URLs as users type them (and as they should not), and the
// signature against one computed independently (Python's hmac module).
#include "graceful/server/client.h"
#include "graceful/server/webhooks.h"
#include "graceful/support/error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace graceful::server {
namespace {

using ::testing::HasSubstr;

TEST(HttpUrl, ParsesWhatReceiversUse) {
  auto plain = parseHttpUrl("http://127.0.0.1:9000/hooks/graceful?team=vision", "webhook URL");
  ASSERT_TRUE(bool(plain));
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, 9000);
  EXPECT_EQ(plain->target, "/hooks/graceful?team=vision");
  auto secure = parseHttpUrl("https://hooks.example.com", "webhook URL");
  ASSERT_TRUE(bool(secure));
  EXPECT_TRUE(secure->tls);
  EXPECT_EQ(secure->port, 0) << "the scheme's port";
  EXPECT_EQ(secure->target, "/");
  auto query = parseHttpUrl("https://hooks.example.com?x=1", "webhook URL");
  ASSERT_TRUE(bool(query));
  EXPECT_EQ(query->target, "/?x=1");
  auto upper = parseHttpUrl("HTTPS://Hooks.Example.com/x", "webhook URL");
  ASSERT_TRUE(bool(upper)) << "schemes are case-insensitive";
  EXPECT_TRUE(upper->tls);
  EXPECT_EQ(upper->target, "/x");
  auto ipv6 = parseHttpUrl("http://[::1]:8081/x", "webhook URL");
  ASSERT_TRUE(bool(ipv6));
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->port, 8081);
}

TEST(HttpUrl, RefusesWhatCannotBeSentOrShouldNotBeStored) {
  const std::pair<std::string, std::string> cases[] = {
      {"ftp://host/x", "expected http://"},
      {"hooks.example.com/x", "expected http://"},
      {"http:///x", "names no host"},
      {"http://:80/x", "names no host"},
      {"http://host:0/", "port"},
      {"http://host:65536/", "port"},
      {"http://host:-1/", "port"},
      {"http://host:99999999999999999999/", "port"},
      {"http://host:80x/", "port"},
      {"http://user:pw@host/", "user information"},
      {"http://host:80@evil/", "user information"},
      {"http://host/x#frag", "fragment"},
      {"http://host/a b", "spaces, control"},
      {std::string("http://host/a\nb"), "spaces, control"},
      {std::string("http://host/a\0b", 15), "spaces, control"},
      {"http://[::1/x", "not closed"},
      {"http://[::1]x/", "PORT"},
      {"http://host/" + std::string(3000, 'a'), "longer than 2048"},
      {"http://::1/", "host"},
      {"http://1.2.3.4:80:90/", "port"},
      {"http://[v1.x]/", "host"},
      {"http://[127.0.0.1]/", "host"},
      {"http://<x>/", "host"},
      {"http://h:/", "port"},
      {"http://h\xc3\xa9st/", "non-ASCII"},
      {"http://h/p\xc3\xa9", "non-ASCII"},
  };
  for (const auto &[url, why] : cases) {
    auto parsed = parseHttpUrl(url, "webhook URL");
    ASSERT_FALSE(bool(parsed)) << url;
    ErrorReport report = describeError(parsed.takeError());
    EXPECT_EQ(report.kind, ErrorKind::BadInput) << url;
    EXPECT_THAT(report.message, HasSubstr(why)) << url;
    EXPECT_EQ(report.message.find('\n'), std::string::npos) << "one line: " << report.message;
    EXPECT_LT(report.message.size(), 400u) << "a huge URL is not echoed whole";
  }
}

TEST(WebhookSignature, MatchesAnIndependentHmac) {
  // python3 -c "import hmac,hashlib; print(hmac.new(b'whsec_test',
  //   b'1764950000.{\"event\":\"promoted\"}', hashlib.sha256).hexdigest())"
  EXPECT_EQ(webhookSignature("whsec_test", 1764950000, R"({"event":"promoted"})"),
            "t=1764950000,v1=05230c5348225d3bfab40576835211afb311e15a45c73efb20ba51d3244a5fd0");
}

} // namespace
} // namespace graceful::server
