#include "leakwatch/http/auth.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

using namespace leakwatch::http;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "leakwatch-auth-XXXXXX").string();
    path = ::mkdtemp(templ.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return (path / name).string();
  }
  // As Kubernetes updates a mounted secret: a new file renamed over the old one.
  void replace(const std::string& name, const std::string& text) const {
    write(name + ".new", text);
    fs::rename(path / (name + ".new"), path / name);
  }
};

std::string header(RequestAuth& auth, const std::string& name) {
  HeaderFields fields;
  const auto ok = auth.add_to(fields);
  REQUIRE(ok);
  for (const auto& [k, v] : fields) {
    if (k == name) return v;
  }
  return "(none)";
}

}  // namespace

TEST_CASE("basic_auth and authorization become an Authorization header", "[http][auth]") {
  AuthSettings basic;
  basic.basic = AuthSettings::Basic{{"Aladdin", ""}, {"open sesame", ""}};
  RequestAuth b(basic);
  CHECK(header(b, "Authorization") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");  // RFC 7617's example

  AuthSettings bearer;
  bearer.authorization = AuthSettings::Authorization{"Bearer", {"tok", ""}};
  RequestAuth t(bearer);
  CHECK(header(t, "Authorization") == "Bearer tok");

  AuthSettings none;
  RequestAuth n(none);
  HeaderFields fields;
  REQUIRE(n.add_to(fields));
  CHECK(fields.empty());
}

TEST_CASE("secret files are read when needed, trimmed, and read again when they change", "[http][auth]") {
  TempDir d;
  const std::string token = d.write("token", "first-token\n");
  AuthSettings s;
  s.authorization = AuthSettings::Authorization{"Bearer", {"", token}};
  s.headers.push_back({"X-Api-Key", {"plain"}, {"inline-secret"}, {d.write("key", "  file-secret \n")}});
  RequestAuth auth(s);
  HeaderFields fields;
  REQUIRE(auth.add_to(fields));
  CHECK(fields == HeaderFields{{"Authorization", "Bearer first-token"},
                               {"X-Api-Key", "plain"},
                               {"X-Api-Key", "inline-secret"},
                               {"X-Api-Key", "file-secret"}});

  d.replace("token", "second-token");  // a rotated (projected) token: a new inode
  CHECK(header(auth, "Authorization") == "Bearer second-token");
  d.write("token", "third-token-longer");  // rewritten in place: another size
  CHECK(header(auth, "Authorization") == "Bearer third-token-longer");

  // A missing file fails the request, naming the file and never a secret; when it is back it is read again.
  fs::remove(token);
  HeaderFields failed;
  const auto missing = auth.add_to(failed);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("authorization credentials_file " + token) == 0);
  CHECK(missing.error().message.find("third-token") == std::string::npos);
  d.write("token", "fourth-token");
  CHECK(header(auth, "Authorization") == "Bearer fourth-token");
}

TEST_CASE("a secret file that cannot be a header value is refused without showing it", "[http][auth]") {
  TempDir d;
  AuthSettings s;
  s.basic = AuthSettings::Basic{{"user", ""}, {"", d.write("password", "pass\r\nX-Injected: secret-part")}};
  RequestAuth auth(s);
  HeaderFields fields;
  const auto r = auth.add_to(fields);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("basic_auth password_file") == 0);
  CHECK(r.error().message.find("line break") != std::string::npos);
  CHECK(r.error().message.find("secret-part") == std::string::npos);

  AuthSettings big;
  big.authorization = AuthSettings::Authorization{"Bearer", {"", d.write("huge", std::string(100'000, 'a'))}};
  RequestAuth huge(big);
  CHECK_FALSE(huge.add_to(fields));
}
