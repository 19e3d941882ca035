// A certificate authority and a certificate for "localhost" signed by it, made with the openssl command
// in a fresh folder (removed again): HTTPS on loopback that a client trusts only when told to.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace rd::test {

struct TestPki {
  std::filesystem::path dir;
  TestPki() {
    dir = std::filesystem::temp_directory_path() / ("rd-pki-" + std::to_string(getpid()) + "-" + std::to_string(++count()));
    std::filesystem::create_directories(dir);
    const std::string script =
        "cd '" + dir.string() + "' && "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=refund-desk-test-ca "
        "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null && "
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null && "
        "printf 'subjectAltName=DNS:localhost\\n' > ext.cnf && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
        "  -extfile ext.cnf 2>/dev/null";
    REQUIRE(std::system(script.c_str()) == 0);
  }
  ~TestPki() { std::filesystem::remove_all(dir); }
  std::string File(const char* name) const { return (dir / name).string(); }

 private:
  static int& count() {
    static int n = 0;
    return n;
  }
};

}  // namespace rd::test
