// A user's side information as the one-hot feature vector the new-user metadata model reads
// (infer/user_metadata_model.h): four groups, age band, gender, occupation and the zip code's
// first digit, each value a column named "key=value" ("age=25-34", "gender=F",
// "occupation=student", "zip=5"). The columns are those the training users had (in that group
// order, values sorted), stored with the model so a new user is encoded the same way later, and
// so a Python user of the export can build the vector from the names.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "collab/data/user_catalog.h"

namespace collab {

// (key, value) pairs as a user gives them: "age" a whole number of years (or a band name),
// "gender", "occupation", "zip" a zip code (only its first character is used).
using UserFeaturePairs = std::vector<std::pair<std::string, std::string>>;

// The four keys, in column-group order.
const std::vector<std::string>& user_feature_keys();

// `user`'s pairs (age, gender, occupation, zip), as the encoder reads them; an unknown field (age
// 0, an empty string) is left out.
UserFeaturePairs user_feature_pairs(const UserRecord& user);

// The columns of `users`: every (key, normalised value) seen, grouped by key, values sorted.
std::vector<std::string> user_feature_columns(const std::vector<UserRecord>& users);

// "age=25,gender=F,occupation=student,zip=55105" (entries split at commas, each at its first
// '='), or the same as a JSON object {"age": 25, "gender": "F", ...}. Throws collab::Error
// naming `origin` and the entry that is not KEY=VALUE, a key given twice, or a JSON value that is
// neither a string nor a number.
UserFeaturePairs parse_user_features(const std::string& text, const std::string& origin);

// The one-hot vector [columns.size()] of `pairs`. A key left out contributes no column (its group
// is all zeros, as for a user whose answer is unknown). Throws collab::Error naming `origin` and
// the key for an unknown key, an age that is neither 1..150 nor a band, and a value the training
// users never had (listing those they had): an unknown occupation is refused rather than mapped to
// "none of the known ones", because a misspelling would otherwise silently give a worse guess.
std::vector<float> encode_user_features(const std::vector<std::string>& columns,
                                        const UserFeaturePairs& pairs, const std::string& origin);

}  // namespace collab
