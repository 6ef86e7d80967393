# The items table: partition by owner, sort by item id (the design's key design), so a page
# costs the same at any table size and no query can cross owners. Key attribute names are the
# DynamoDB adapter's (`functions::adapters::aws::dynamodb::attr`); a conformance test holds them
# together.
resource "aws_dynamodb_table" "items" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key (aws/dynamodb); access is held by IAM to the items role.
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "owner"
  range_key                   = "id"
  deletion_protection_enabled = var.deletion_protection

  # Every write, as the item after it: the item-events function publishes ItemCreated from the
  # INSERTs of items (modules/functions, the event source mapping), so a stored item is always
  # announced, and only once it is stored.
  stream_enabled   = true
  stream_view_type = "NEW_IMAGE"

  attribute {
    name = "owner"
    type = "S"
  }

  attribute {
    name = "id"
    type = "S"
  }

  # Idempotency records (a later change) expire through this attribute; items never set it.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = var.tags
}
