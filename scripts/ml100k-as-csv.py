#!/usr/bin/env python3
"""MovieLens 100k rewritten in the current MovieLens CSV layout (ml-latest, ml-20m, ml-25m):
ratings.csv (userId,movieId,rating,timestamp) and movies.csv (movieId,title,genres: UTF-8,
titles with commas in double quotes, genres '|'-separated, "(no genres listed)" for none), so
the movies.csv path can be tried on real data without a download. The licence of MovieLens
forbids redistributing the output: keep it local.

usage: scripts/ml100k-as-csv.py SRC_DIR OUT_DIR   (SRC_DIR holds u.data and u.item)
"""
import csv, os, sys

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]
# movies.csv spells one genre differently from u.item.
CSV_NAME = {"Children's": "Children"}


def main(src, out):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(src, "u.data")) as f, \
            open(os.path.join(out, "ratings.csv"), "w", newline="") as g:
        w = csv.writer(g, lineterminator="\n")
        w.writerow(["userId", "movieId", "rating", "timestamp"])
        for line in f:
            user, item, rating, stamp = line.split()
            w.writerow([user, item, f"{float(rating):.1f}", stamp])
    with open(os.path.join(src, "u.item"), encoding="latin-1") as f, \
            open(os.path.join(out, "movies.csv"), "w", newline="", encoding="utf-8") as g:
        w = csv.writer(g, lineterminator="\n")
        w.writerow(["movieId", "title", "genres"])
        for line in f:
            fields = line.rstrip("\n").split("|")
            flags = fields[5:]
            genres = [CSV_NAME.get(n, n) for n, on in zip(GENRES[1:], flags[1:]) if on == "1"]
            w.writerow([fields[0], fields[1], "|".join(genres) or "(no genres listed)"])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
