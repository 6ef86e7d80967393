output "bus_name" {
  description = "Name of the event bus."
  value       = aws_cloudwatch_event_bus.items.name
}

output "bus_arn" {
  description = "ARN of the event bus."
  value       = aws_cloudwatch_event_bus.items.arn
}

output "item_created_rule_name" {
  description = "Name of the ItemCreated rule."
  value       = aws_cloudwatch_event_rule.item_created.name
}

output "archive_log_group_name" {
  description = "Log group that archives the events."
  value       = aws_cloudwatch_log_group.archive.name
}

output "archive_name" {
  description = "Name of the EventBridge archive, for replays."
  value       = aws_cloudwatch_event_archive.items.name
}
