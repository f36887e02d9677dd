#!/bin/sh
# Per-user AWS sessions for bedrock-mcp (docs/identity.md): the IAM OIDC provider for the
# Entra tenant (with a context provider, so STS attaches each user's identity), the role users
# assume, and the knowledge-base setting. Run with an administrator's AWS credentials:
#
#   AWS_REGION=eu-west-1 AWS_ACCOUNT_ID=123456789012 BEDROCK_KB_ID=ABCDE12345 \
#   ENTRA_TENANT_ID=<tenant guid> ENTRA_CLIENT_ID=<api app client guid> \
#   sh deployment/iam/identity-setup.sh
#
# For v1 access tokens (accessTokenAcceptedVersion null or 1) use the *-v1.json files instead
# (or both, if tokens of both versions reach the server). Review every file before running.
set -eu
: "${AWS_REGION:?}" "${AWS_ACCOUNT_ID:?}" "${BEDROCK_KB_ID:?}" "${ENTRA_TENANT_ID:?}" "${ENTRA_CLIENT_ID:?}"
ROLE_NAME=${ROLE_NAME:-bedrock-mcp-user}
here=$(dirname "$0")
out=$(mktemp -d)
for f in entra-oidc-provider.json user-role-trust-policy.json user-role-policy.json; do
  sed -e "s/YOUR_REGION/$AWS_REGION/g" -e "s/YOUR_ACCOUNT_ID/$AWS_ACCOUNT_ID/g" \
      -e "s/YOUR_KB_ID/$BEDROCK_KB_ID/g" -e "s/YOUR_TENANT_ID/$ENTRA_TENANT_ID/g" \
      -e "s/YOUR_CLIENT_ID/$ENTRA_CLIENT_ID/g" "$here/$f" > "$out/$f"
done
# 1. The OIDC provider: issuer of v2 tokens, our API's client id, subject taken from upn.
aws iam create-open-id-connect-provider --cli-input-json "file://$out/entra-oidc-provider.json"
# 2. The role each signed-in user assumes (MaxSessionDuration 1 h; the server asks 900 s).
aws iam create-role --role-name "$ROLE_NAME" \
    --assume-role-policy-document "file://$out/user-role-trust-policy.json"
aws iam put-role-policy --role-name "$ROLE_NAME" --policy-name BedrockKBRetrieveAsUser \
    --policy-document "file://$out/user-role-policy.json"
# 3. The knowledge base takes the reader from the identity-enhanced session. update-knowledge-base
#    replaces the whole definition: start from get-knowledge-base and change only this field.
echo "Now set userContextModeForRetrieval=IDENTITY_ENHANCED_SESSION on $BEDROCK_KB_ID (docs/identity.md, step 4),"
echo "and run the server with AWS_USER_CREDENTIALS=web-identity AWS_USER_ROLE_ARN=arn:aws:iam::$AWS_ACCOUNT_ID:role/$ROLE_NAME"
rm -rf "$out"
