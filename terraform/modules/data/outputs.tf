output "table_name" {
  description = "Name of the items table."
  value       = aws_dynamodb_table.items.name
}

output "table_arn" {
  description = "ARN of the items table."
  value       = aws_dynamodb_table.items.arn
}

output "stream_arn" {
  description = "ARN of the table's stream (NEW_IMAGE), which the item-events function reads."
  value       = aws_dynamodb_table.items.stream_arn
}
