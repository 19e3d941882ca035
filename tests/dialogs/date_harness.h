// Date tests run with the shipped date words (knowledge/dates.json), as the bot does.
#pragma once

#include "dialogs/dates.h"
#include "tests/dialogs/dialog_harness.h"

namespace rd {

// `o` with the shipped date vocabulary.
inline DateOptions WithWords(DateOptions o = {}) {
  o.vocabulary = test::ShippedKnowledge()->vocab.dates.get();
  return o;
}

}  // namespace rd
