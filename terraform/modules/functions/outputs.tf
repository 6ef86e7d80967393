output "functions" {
  description = "Each function by key (items, public, item-events): who invokes it (api or stream), name, ARN, invoke ARN, role and log group."
  value = {
    for key, fn in aws_lambda_function.function : key => {
      trigger       = local.functions[key].trigger
      function_name = fn.function_name
      arn           = fn.arn
      invoke_arn    = fn.invoke_arn
      role_arn      = aws_iam_role.function[key].arn
      log_group     = aws_cloudwatch_log_group.function[key].name
    }
  }
}

output "item_events" {
  description = "The stream consumer's event source mapping (its UUID) and dead-letter queue (name, URL, ARN)."
  value = {
    mapping_uuid = aws_lambda_event_source_mapping.item_events.uuid
    dlq_name     = aws_sqs_queue.item_events_dlq.name
    dlq_url      = aws_sqs_queue.item_events_dlq.url
    dlq_arn      = aws_sqs_queue.item_events_dlq.arn
  }
}
