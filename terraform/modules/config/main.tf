# The configuration secret: the JSON document of functions/src/adapters/secret_document.rs,
# `{"cursor_keys": [{"id": "...", "secret_b64": "..."}]}`; the first key signs page cursors and
# every key verifies them. Terraform writes only the first version, with a key made here;
# rotations (prepend a key, drop the oldest a day later) are new versions put by operators
# (PutSecretValue), which Terraform leaves alone: see aws_secretsmanager_secret_version.initial.
# Nothing secret is in the repository.
resource "aws_secretsmanager_secret" "config" {
  #checkov:skip=CKV2_AWS_57:Keys rotate by hand (prepend a key, drop the oldest after a day); no rotation Lambda yet.
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS managed key (aws/secretsmanager); only the items role may read the secret.
  name                    = var.secret_name
  description             = "Configuration of ${var.secret_name}: cursor signing keys."
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}

# 32 bytes: HMAC-SHA256 wants at least its output size (MIN_SECRET_BYTES in the code).
resource "random_bytes" "cursor_key" {
  length = var.key_bytes
}

locals {
  # The staging label that stays on the version Terraform wrote, whatever the rotations do
  # (testkit::aws::TERRAFORM_STAGE, which the rotation test on moto uses).
  stage = "terraform-initial"

  initial_document = jsonencode({
    cursor_keys = [
      {
        id         = "k1"
        secret_b64 = random_bytes.cursor_key.base64
      },
    ]
  })
}

# Why a label of our own: the provider reads this version by its id and drops it from state
# when GetSecretValue says it is gone, and Secrets Manager deprecates (and may delete) a version
# left with no staging label. Each rotation moves AWSCURRENT off this version and the next moves
# AWSPREVIOUS off it too; without a label of its own it would then be gone, and the next apply
# would put it again as AWSCURRENT: the retired key current once more. With local.stage it keeps
# a label, the provider keeps finding it, and ignore_changes keeps Terraform from moving
# AWSCURRENT back (version_stages) or replacing the version (secret_string).
#
# Not secret_string_wo (write-only, provider 6.25 and Terraform 1.11 have it): the key is in
# state through random_bytes anyway, and a write-only value changes nothing of the above.
resource "aws_secretsmanager_secret_version" "initial" {
  secret_id      = aws_secretsmanager_secret.config.id
  secret_string  = local.initial_document
  version_stages = ["AWSCURRENT", local.stage]

  lifecycle {
    # Rotations are the operators': Terraform must not roll them back.
    ignore_changes = [secret_string, version_stages]
  }
}
