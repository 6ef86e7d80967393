# The configuration secret: the JSON document of functions/src/adapters/secret_document.rs,
# `{"cursor_keys": [{"id": "...", "secret_b64": "..."}]}`; the first key signs page cursors and
# every key verifies them. Terraform writes only the first version, with a key made here;
# rotations (prepend a key, drop the oldest a day later) are new versions that Terraform leaves
# alone. Nothing secret is in the repository.
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
  initial_document = jsonencode({
    cursor_keys = [
      {
        id         = "k1"
        secret_b64 = random_bytes.cursor_key.base64
      },
    ]
  })
}

resource "aws_secretsmanager_secret_version" "initial" {
  secret_id     = aws_secretsmanager_secret.config.id
  secret_string = local.initial_document

  lifecycle {
    # Rotated keys are put by operators; Terraform must not roll them back.
    ignore_changes = [secret_string]
  }
}
