// The web pages and scripts of bot/web/, compiled into the binary (cmake/embed_web.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace rd {

struct WebAsset {
  std::string_view path;          // "/widget.js"
  std::string_view content_type;
  std::string_view body;
};

const std::vector<WebAsset>& WebAssets();

}  // namespace rd
