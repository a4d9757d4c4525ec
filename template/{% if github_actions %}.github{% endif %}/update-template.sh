#!/usr/bin/env bash
# Run by .github/workflows/update-template.yml: updates this project to the newest release of
# its Copier template and opens a pull request with the result. Needs copier, git and gh, and a
# clean work tree; it pushes one branch, template-update/<release>, and never touches main.
set -euo pipefail

answer() { sed -n "s/^$1: //p" .copier-answers.yml; }
before=$(answer _commit)

# --defaults keeps every recorded answer (a new question takes its default). --conflict inline
# leaves conflict markers in the file itself, where the pull request's diff shows them and the
# check-merge-conflict hook in CI refuses them, rather than .rej files that are easy to miss.
# No --trust: a release with a migration stops here with Copier's message; run
# `copier update --trust` on your own machine for that one.
copier update --defaults --conflict inline
after=$(answer _commit)
if [ "$after" = "$before" ]; then
  echo "Already on the newest template release, $before."
  exit 0
fi

# One branch per release. A pull request for it, open or closed, means it was proposed
# already: closing one declines that release, and the next release gets a new pull request.
branch="template-update/$after"
existing=$(gh pr list --head "$branch" --state all --json url --jq '.[].url')
if [ -n "$existing" ]; then
  echo "A pull request for template $after exists already: $existing"
  exit 0
fi

# The files where Copier left conflict markers: lines that start as check-merge-conflict sees.
git add --all
mapfile -t conflicts < <(git grep --files-with-matches '^<<<<<<< ')
git switch --quiet --create "$branch"
git commit --quiet --message "Update the template from $before to $after"
git push --force --quiet origin "HEAD:refs/heads/$branch"

title="Update the template to $after"
body="\`copier update\` from $before to $after of $(answer _src_path)."
draft=()
if [ "${#conflicts[@]}" -gt 0 ]; then
  title="$title: conflicts in ${#conflicts[@]} file(s)"
  body="$body

Your edits and the release change the same lines in these files:
$(printf -- "- \`%s\`\n" "${conflicts[@]}")

Check out this branch, resolve each \`<<<<<<< before updating\` ... \`>>>>>>> after updating\`
block, push, then mark this pull request ready for review. Until then the check-merge-conflict
hook fails CI."
  draft=(--draft)
fi
gh pr create --head "$branch" --title "$title" --body "$body" "${draft[@]}"
