#include "agent/routes.h"

#include <catch2/catch.hpp>

namespace skr::agent {
namespace {

TEST_CASE("resolveRoute maps key paths to their kind, operation, key and version") {
  std::optional<Route> unwrap = resolveRoute("/keys/data-kek/v2/UnwrapKey");
  REQUIRE(unwrap);
  CHECK(unwrap->kind == RouteKind::KeyOp);
  CHECK(unwrap->method == "POST");
  CHECK(unwrap->auth_op == Operation::Unwrap);
  CHECK(unwrap->op_label == "unwrapkey");
  CHECK(unwrap->key == "data-kek");
  CHECK(unwrap->version == "v2");

  std::optional<Route> get = resolveRoute("/keys/data-kek/v2");
  REQUIRE(get);
  CHECK(get->kind == RouteKind::GetKey);
  CHECK(get->version == "v2");

  std::optional<Route> batch = resolveRoute("/keys/data-kek/unwrapkey/batch");
  REQUIRE(batch);
  CHECK(batch->kind == RouteKind::Batch);
  CHECK(batch->op_label == "unwrapkey_batch");
  CHECK_FALSE(batch->version);
}

TEST_CASE("resolveRoute prefers rewrap and rotate over a version of that name") {
  CHECK(resolveRoute("/keys/k/rewrap")->kind == RouteKind::Rewrap);
  std::optional<Route> rotate = resolveRoute("/keys/k/ROTATE");
  REQUIRE(rotate);
  CHECK(rotate->kind == RouteKind::Rotate);
  CHECK(rotate->admin);
  CHECK(resolveRoute("/keys/k/v1/retire")->kind == RouteKind::Retire);
}

TEST_CASE("resolveRoute maps /data/open to the open-data operation on the client socket") {
  std::optional<Route> open = resolveRoute("/data/open");
  REQUIRE(open);
  CHECK(open->kind == RouteKind::DataOpen);
  CHECK(open->method == "POST");
  CHECK(open->auth_op == Operation::OpenData);
  CHECK_FALSE(open->admin);
  CHECK(open->key.empty());
  CHECK(open->op_label == "data_open");
  CHECK_FALSE(resolveRoute("/data"));
  CHECK_FALSE(resolveRoute("/data/open/x"));
}

TEST_CASE("resolveRoute rejects unknown paths, empty segments and case-changed roots") {
  CHECK_FALSE(resolveRoute(""));
  CHECK_FALSE(resolveRoute("/"));
  CHECK_FALSE(resolveRoute("/Keys"));
  CHECK_FALSE(resolveRoute("/keys/k//unwrapkey"));
  CHECK_FALSE(resolveRoute("/keys/k/v1/frobnicate"));
  CHECK_FALSE(resolveRoute("/healthz/x"));
  CHECK_FALSE(resolveRoute("/keys/k/v1/unwrapkey/x"));
  CHECK_FALSE(resolveRoute("/keys/k/v1/unwrapkey/x/y/z/w"));
  // A trailing slash ends the last segment; it adds no empty one.
  CHECK(resolveRoute("/keys/k/v1/unwrapkey/")->kind == RouteKind::KeyOp);
}

TEST_CASE("resolveRoute matches operation and literal segments in any ASCII case only") {
  std::optional<Route> wrap = resolveRoute("/keys/K/wRaPkEy");
  REQUIRE(wrap);
  CHECK(wrap->auth_op == Operation::Wrap);
  CHECK(wrap->op_label == "wrapkey");
  CHECK(wrap->key == "K");  // names keep their case
  CHECK(resolveRoute("/keys/k/v/DECRYPT")->auth_op == Operation::Decrypt);
  CHECK(resolveRoute("/keys/k/Encrypt")->auth_op == Operation::Encrypt);
  CHECK(resolveRoute("/keys/k/UNWRAPKEY/Batch")->kind == RouteKind::Batch);
  // A longer or shorter look-alike is no operation: it is a version, and two segments after the
  // name with an unknown last one match nothing.
  CHECK(resolveRoute("/keys/k/unwrapkeyx")->kind == RouteKind::GetKey);
  CHECK_FALSE(resolveRoute("/keys/k/v/unwrapke"));
  CHECK_FALSE(resolveRoute("/keys/k/v/unwrapkey\xc4\xb0"));
}

}  // namespace
}  // namespace skr::agent
