#pragma once
#include <string>
#include <string_view>

namespace signerd {

// A new random entity id in Dfns's format: "<prefix>-xxxxx-xxxxx-xxxxxxxxxxxxxxxx" with [a-z0-9] groups of 5, 5
// and 16 characters (matches ^<prefix>-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{14,16}$). 26 random base-36 characters
// carry about 134 bits, from OpenSSL's CSPRNG. Thread-safe.
std::string make_entity_id(std::string_view prefix);

// The same format, but the first 9 characters are the current time in milliseconds (base 36, zero-padded), so ids
// made later sort after earlier ones, and the other 17 (about 88 bits) are random. For rows written at a high rate
// (signatures): their unique index on id then grows at its end instead of touching a random page per insert, which
// keeps each group commit to a few pages. The id reveals when it was made, as the entity's date fields already do.
std::string make_ordered_entity_id(std::string_view prefix);

// True when `id` has the shape make_entity_id(prefix) produces (16-character last group or 14..16, as Dfns allows).
bool is_entity_id(std::string_view id, std::string_view prefix);

}  // namespace signerd
