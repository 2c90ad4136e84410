// The own port's security from a web config: basic auth and bcrypt, the rate limit's token bucket, the TLS
// context, and the server serving over TLS with client certificates, on a real loopback socket.

#include "basic_auth.hpp"
#include "leakwatch/exporter/server.hpp"
#include "leakwatch/exporter/web_config_source.hpp"
#include "server_tls.hpp"
#include "token_bucket.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <prometheus/text_serializer.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using namespace leakwatch;
using namespace leakwatch::exporter;
using namespace std::chrono_literals;

namespace {

const std::string kCerts = std::string(LEAKWATCH_TESTDATA_DIR) + "/web/";
// libxcrypt's bcrypt (cost 4) of "s3cret".
const std::string kHash = "$2b$04$r24nEAiYGFZC0MP32x5DDuIKdhxlPmbKT/tYlge0E7WzFyugINPKO";

std::string base64(std::string_view in) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

config::WebTlsConfig server_tls() {
  config::WebTlsConfig tls;
  tls.cert_file = kCerts + "server.crt";
  tls.key_file = kCerts + "server.key";
  return tls;
}

// Runs a PasswordCheck to completion on its own io_context.
PasswordCheck::Verdict check(PasswordCheck& pc, const std::map<std::string, std::string, std::less<>>& users,
                             std::string user, std::string password) {
  asio::io_context io;
  auto f = asio::co_spawn(io, pc.check(users, Credentials{std::move(user), std::move(password)}), asio::use_future);
  io.run();
  return f.get();
}

}  // namespace

TEST_CASE("basic auth headers are parsed strictly", "[exporter][web]") {
  auto c = parse_basic_auth("Basic " + base64("alice:s3cret:with:colons"));
  REQUIRE(c);
  CHECK(c->user == "alice");
  CHECK(c->password == "s3cret:with:colons");
  CHECK(parse_basic_auth("basic " + base64("a:")));  // the scheme in any case; an empty password
  CHECK(parse_basic_auth("BASIC " + base64("a:b"))->password == "b");
  CHECK_FALSE(parse_basic_auth(""));
  CHECK_FALSE(parse_basic_auth("Bearer " + base64("a:b")));
  CHECK_FALSE(parse_basic_auth("Basic " + base64("no-colon")));
  CHECK_FALSE(parse_basic_auth("Basic YWxpY2U6czNjcmV0="));  // a padding character in the middle of the data
  CHECK_FALSE(parse_basic_auth("Basic YWxp*2U6"));           // not base64
  CHECK_FALSE(parse_basic_auth("Basic YWxpY2"));             // truncated
  CHECK_FALSE(parse_basic_auth("Basic"));
}

TEST_CASE("bcrypt hashes are checked with libxcrypt", "[exporter][web]") {
  CHECK(bcrypt_matches("s3cret", kHash));
  CHECK_FALSE(bcrypt_matches("s3cret ", kHash));
  CHECK_FALSE(bcrypt_matches("", kHash));
  CHECK(bcrypt_matches("other", "$2y$04$oeoGJFSQFUWn1El4fyMgrua5c0SCEBQyKXtpGE36v58e.Ql4Rsfg6"));
  CHECK_FALSE(bcrypt_matches(std::string("s3cret\0x", 8), kHash));  // a NUL would cut the password short
  CHECK_FALSE(bcrypt_matches(std::string(73, 'a'), kHash));         // bcrypt would ignore the tail
  CHECK_FALSE(bcrypt_matches("s3cret", "not a hash"));
}

TEST_CASE("password checks: known users, unknown users and the cache", "[exporter][web]") {
  PasswordCheck pc;
  const std::map<std::string, std::string, std::less<>> users{{"alice", kHash}};
  CHECK(check(pc, users, "alice", "s3cret") == PasswordCheck::Verdict::ok);
  CHECK(check(pc, users, "alice", "s3cret") == PasswordCheck::Verdict::ok);  // cached
  CHECK(check(pc, users, "alice", "wrong") == PasswordCheck::Verdict::denied);
  CHECK(check(pc, users, "mallory", "s3cret") == PasswordCheck::Verdict::denied);
  // A changed hash for the same user and password is a different cache entry.
  const std::map<std::string, std::string, std::less<>> rotated{
      {"alice", "$2y$04$oeoGJFSQFUWn1El4fyMgrua5c0SCEBQyKXtpGE36v58e.Ql4Rsfg6"}};
  CHECK(check(pc, rotated, "alice", "s3cret") == PasswordCheck::Verdict::denied);
  CHECK(check(pc, rotated, "alice", "other") == PasswordCheck::Verdict::ok);
}

TEST_CASE("the rate limit is a token bucket that starts full", "[exporter][web]") {
  TokenBucket b;
  const auto t0 = TokenBucket::Clock::time_point{} + 1h;
  CHECK(b.allow(t0));  // not configured: everything passes
  b.configure(100ms, 3, t0);
  CHECK(b.allow(t0));
  CHECK(b.allow(t0));
  CHECK(b.allow(t0));
  CHECK_FALSE(b.allow(t0));
  CHECK_FALSE(b.allow(t0 + 50ms));
  CHECK(b.allow(t0 + 150ms));  // one token earned per interval
  CHECK_FALSE(b.allow(t0 + 160ms));
  CHECK(b.allow(t0 + 10s));  // saved up to the burst, not more
  CHECK(b.allow(t0 + 10s));
  CHECK(b.allow(t0 + 10s));
  CHECK_FALSE(b.allow(t0 + 10s));
  b.configure(100ms, 3, t0 + 10s);  // unchanged settings keep the bucket as it is
  CHECK_FALSE(b.allow(t0 + 10s));
  b.configure(1s, 1, t0 + 10s);  // new settings refill it
  CHECK(b.allow(t0 + 10s));
  CHECK_FALSE(b.allow(t0 + 10s));
  b.configure(0s, 0, t0 + 10s);  // interval 0 disables it
  CHECK(b.allow(t0 + 10s));
}

TEST_CASE("TLS contexts: what loads and what is refused", "[exporter][web]") {
  CHECK(make_server_tls(server_tls()));

  config::WebTlsConfig inline_pem;
  inline_pem.cert = read(kCerts + "server.crt");
  inline_pem.key = read(kCerts + "server.key");
  CHECK(make_server_tls(inline_pem));

  auto wrong = server_tls();
  wrong.key_file = kCerts + "wrong.key";
  auto r = make_server_tls(wrong);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "TLS: key_file " + kCerts + "wrong.key does not match cert_file " + kCerts + "server.crt");

  auto missing = server_tls();
  missing.cert_file = kCerts + "absent.crt";
  r = make_server_tls(missing);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.rfind("TLS: cannot read cert_file " + kCerts + "absent.crt: ", 0) == 0);

  // A key that is not PEM: the message names where it came from, never its bytes.
  auto garbage = server_tls();
  garbage.key_file.clear();
  garbage.key = "TOPSECRET not a key";
  r = make_server_tls(garbage);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.rfind("TLS: cannot load the inline key: ", 0) == 0);
  CHECK(r.error().message.find("TOPSECRET") == std::string::npos);

  auto ca = server_tls();
  ca.client_auth = config::ClientAuth::require_and_verify_client_cert;
  ca.client_ca_file = kCerts + "server.key";  // no certificate in it
  r = make_server_tls(ca);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "TLS: no PEM certificate in client_ca_file " + kCerts + "server.key");

  auto ciphers = server_tls();
  ciphers.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"};
  ciphers.curve_preferences = {"CurveP256", "X25519"};
  CHECK(make_server_tls(ciphers));
}

namespace {

// A server on 127.0.0.1 with a web config file, run on its own thread.
struct SecureServer {
  explicit SecureServer(const std::string& yaml) : dir(std::filesystem::temp_directory_path() / "leakwatch_web_test") {
    std::filesystem::create_directories(dir);
    write(yaml);
    registry = std::make_shared<prometheus::Registry>();
    auto source = WebConfigSource::open(file(), *registry);
    REQUIRE(source);
    web = *source;
    Handlers h;
    h.ready = [] { return true; };
    server = std::make_shared<Server>(io, h, ServerOptions{web, registry});
    auto ep = server->listen("127.0.0.1:0");
    REQUIRE(ep);
    endpoint = *ep;
    runner = std::thread([this] { io.run(); });
  }
  ~SecureServer() {
    server->stop();
    io.stop();
    runner.join();
    std::filesystem::remove_all(dir);
  }
  std::string file() const { return (dir / "web.yml").string(); }
  void write(const std::string& yaml) const {
    // Through a rename, as a Kubernetes secret volume swaps files: a new inode, seen however fast.
    const auto tmp = dir / "web.yml.tmp";
    std::ofstream(tmp) << yaml;
    std::filesystem::rename(tmp, dir / "web.yml");
  }
  std::string metric(std::string_view name) const {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry->Collect());
    std::string line;
    std::istringstream in(out.str());
    std::string found;
    while (std::getline(in, line)) {
      if (line.rfind(name, 0) == 0) found += line + "\n";
    }
    return found;
  }

  std::filesystem::path dir;
  asio::io_context io;
  std::shared_ptr<prometheus::Registry> registry;
  std::shared_ptr<WebConfigSource> web;
  std::shared_ptr<Server> server;
  tcp::endpoint endpoint;
  std::thread runner;
};

struct Answer {
  boost::system::error_code ec;  // of the handshake or the exchange
  http::response<http::string_body> res;
};

// One GET over TLS, trusting ca.crt, optionally presenting a client certificate.
Answer get_tls(const tcp::endpoint& ep, const std::string& target, const std::string& authorization = "",
               const std::string& client = "") {
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(kCerts + "ca.crt");
  ctx.set_verify_mode(ssl::verify_peer);
  if (!client.empty()) {
    ctx.use_certificate_chain_file(kCerts + client + ".crt");
    ctx.use_private_key_file(kCerts + client + ".key", ssl::context::pem);
  }
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  Answer a;
  beast::get_lowest_layer(stream).connect(ep);
  beast::get_lowest_layer(stream).expires_after(10s);
  stream.handshake(ssl::stream_base::client, a.ec);
  if (a.ec) return a;
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "localhost");
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  http::write(stream, req, a.ec);
  beast::flat_buffer buf;
  if (!a.ec) http::read(stream, buf, a.res, a.ec);
  return a;
}

}  // namespace

TEST_CASE("over TLS with basic auth: 401 without the password, headers on every answer", "[exporter][web]") {
  SecureServer s("tls_server_config:\n  cert_file: " + kCerts + "server.crt\n  key_file: " + kCerts +
                 "server.key\nbasic_auth_users:\n  alice: " + kHash +
                 "\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n");
  Answer a = get_tls(s.endpoint, "/-/healthy");
  REQUIRE_FALSE(a.ec);
  CHECK(a.res.result() == http::status::unauthorized);
  CHECK(a.res[http::field::www_authenticate] == "Basic");
  CHECK(a.res["X-Frame-Options"] == "deny");

  a = get_tls(s.endpoint, "/-/healthy", "Basic " + base64("alice:wrong"));
  CHECK(a.res.result() == http::status::unauthorized);
  a = get_tls(s.endpoint, "/-/healthy", "Basic " + base64("alice:s3cret"));
  CHECK(a.res.result() == http::status::ok);
  CHECK(a.res["X-Frame-Options"] == "deny");
  CHECK(s.metric("leakwatch_web_rejected_total{reason=\"unauthorized\"}") ==
        "leakwatch_web_rejected_total{reason=\"unauthorized\"} 2\n");

  // Plain HTTP to the TLS port is a failed handshake, counted.
  {
    asio::io_context io;
    tcp::socket plain(io);
    plain.connect(s.endpoint);
    asio::write(plain, asio::buffer(std::string("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")));
    std::string got;
    boost::system::error_code ec;
    asio::read(plain, asio::dynamic_buffer(got), ec);
    CHECK(got.find("HTTP/1.1 200") == std::string::npos);
  }
  for (int i = 0;
       i < 100 && s.metric("leakwatch_web_rejected_total{reason=\"tls_handshake\"}").find(" 1\n") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(10ms);  // the server counts it on its own thread
  }
  CHECK(s.metric("leakwatch_web_rejected_total{reason=\"tls_handshake\"}") ==
        "leakwatch_web_rejected_total{reason=\"tls_handshake\"} 1\n");
}

TEST_CASE("client certificates: verified against the CA and matched against the allowed SANs", "[exporter][web]") {
  SecureServer s("tls_server_config:\n  cert_file: " + kCerts + "server.crt\n  key_file: " + kCerts +
                 "server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: " + kCerts +
                 "ca.crt\n  client_allowed_sans: [spiffe://test/prometheus]\n");
  Answer a = get_tls(s.endpoint, "/-/ready", "", "client");
  REQUIRE_FALSE(a.ec);
  CHECK(a.res.result() == http::status::ok);

  // No certificate, one from another CA: the handshake fails (TLS 1.3 may report it at the first read).
  a = get_tls(s.endpoint, "/-/ready");
  CHECK((a.ec || a.res.result() != http::status::ok));
  a = get_tls(s.endpoint, "/-/ready", "", "client-other-ca");
  CHECK((a.ec || a.res.result() != http::status::ok));
  // A certificate from the right CA without an allowed SAN: the connection is closed unanswered.
  a = get_tls(s.endpoint, "/-/ready", "", "client-unlisted");
  CHECK(a.ec);
  CHECK(s.metric("leakwatch_web_rejected_total{reason=\"client_certificate\"}") ==
        "leakwatch_web_rejected_total{reason=\"client_certificate\"} 1\n");
}

TEST_CASE("a changed web config applies at the next request; a broken one keeps the last good", "[exporter][web]") {
  SecureServer s("basic_auth_users:\n  alice: " + kHash + "\n");
  const auto get = [&](const std::string& auth) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(s.endpoint);
    http::request<http::empty_body> req{http::verb::get, "/-/healthy", 11};
    req.set(http::field::host, "localhost");
    if (!auth.empty()) req.set(http::field::authorization, auth);
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    return res;
  };
  CHECK(get("").result() == http::status::unauthorized);
  CHECK(s.metric("leakwatch_web_config_last_reload_successful") == "leakwatch_web_config_last_reload_successful 1\n");

  s.write("rate_limit:\n  interval: 1h\n  burst: 2\n");  // no users any more; two requests an hour
  CHECK(get("").result() == http::status::ok);
  CHECK(get("").result() == http::status::ok);
  auto limited = get("");
  CHECK(limited.result() == http::status::too_many_requests);

  s.write("basic_auth_users:\n  alice: not-a-hash\n");  // refused: the rate limit stays in force
  CHECK(get("").result() == http::status::too_many_requests);
  CHECK(s.metric("leakwatch_web_config_last_reload_successful") == "leakwatch_web_config_last_reload_successful 0\n");
  CHECK(s.metric("leakwatch_web_rejected_total{reason=\"rate_limited\"}") ==
        "leakwatch_web_rejected_total{reason=\"rate_limited\"} 2\n");

  s.write("basic_auth_users:\n  alice: " + kHash + "\n");
  CHECK(get("Basic " + base64("alice:s3cret")).result() == http::status::ok);
  CHECK(s.metric("leakwatch_web_config_last_reload_successful") == "leakwatch_web_config_last_reload_successful 1\n");
}

TEST_CASE("a web config that does not load is refused at start with its reasons", "[exporter][web]") {
  const auto dir = std::filesystem::temp_directory_path() / "leakwatch_web_test_bad";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "web.yml") << "tls_server_config:\n  cert_file: " << kCerts
                                 << "server.crt\n  key_file: " << kCerts << "wrong.key\n";
  prometheus::Registry registry;
  auto r = WebConfigSource::open((dir / "web.yml").string(), registry);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == (dir / "web.yml").string() + ": tls_server_config: TLS: key_file " + kCerts +
                                 "wrong.key does not match cert_file " + kCerts + "server.crt");
  std::ofstream(dir / "web.yml") << "basic_auth_users: {alice: x}\nrate_limit: {burst: 1, every: 1s}\n";
  r = WebConfigSource::open((dir / "web.yml").string(), registry);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find(":1:27: basic_auth_users: alice: expected a bcrypt hash") != std::string::npos);
  CHECK(r.error().message.find(":2:24: rate_limit: unknown key \"every\"") != std::string::npos);
  std::filesystem::remove_all(dir);
}
