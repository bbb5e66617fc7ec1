#!/bin/sh
# Stands in for a real deploy: it uses the secrets without printing them.
set -eu
test -n "$DATABASE_PASSWORD"
test "$DATABASE_HOST" = "db.demo.internal"
test -f "$DEPLOY_CREDENTIALS"
grep -q '"username"' "$DEPLOY_CREDENTIALS"
echo "deploying to $DATABASE_HOST"
# A careless line like this one is masked by `ci-secrets exec`:
echo "debug: password is $DATABASE_PASSWORD"
