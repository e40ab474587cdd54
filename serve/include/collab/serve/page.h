// The page `collab serve` shows at /: plain HTML, JavaScript and SVG in one file
// (serve/page/explorer.html), compiled into the binary so that serving needs no files beside it
// and the page no network: search an item and see its neighbours, pick a user and see their
// recommendations next to what they rated, the PCA map of the item factors, the biggest and
// smallest item biases, and a new user's recommendations from a few ratings.
#pragma once

#include <string>

namespace collab {

const std::string& explorer_page();

}  // namespace collab
