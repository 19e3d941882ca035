#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <signal.h>

int main(int argc, char** argv) {
  // A server may answer and close before a test client has written all of a large body (413); the
  // client must see the error, not die of SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  return Catch::Session().run(argc, argv);
}
