output "api_url" {
  description = "Base URL of the API."
  value       = module.api.api_url
}

output "hosted_ui_url" {
  description = "Base URL of the Cognito Hosted UI (sign-in at /oauth2/authorize)."
  value       = module.auth.hosted_ui_url
}

output "web_client_config" {
  description = "The example web client's config.json (examples/web/; docs/deploy.md): terraform output -raw web_client_config > examples/web/config.json."
  value = jsonencode({
    apiUrl      = module.api.api_url
    authDomain  = module.auth.hosted_ui_url
    clientId    = module.auth.app_client_id
    redirectUri = var.callback_urls[0]
    logoutUri   = length(var.logout_urls) > 0 ? var.logout_urls[0] : null
  })
}

output "user_pool_id" {
  description = "Id of the Cognito user pool."
  value       = module.auth.user_pool_id
}

output "app_client_id" {
  description = "Id of the Hosted UI app client (the tokens' audience)."
  value       = module.auth.app_client_id
}

output "jwt_issuer" {
  description = "Issuer of the accepted tokens."
  value       = module.auth.issuer
}

output "table_name" {
  description = "Name of the items table."
  value       = module.data.table_name
}

output "event_bus_name" {
  description = "Name of the event bus."
  value       = module.events.bus_name
}

output "event_archive_name" {
  description = "Name of the EventBridge archive (aws events start-replay)."
  value       = module.events.archive_name
}

output "archive_log_group" {
  description = "Log group that archives the events."
  value       = module.events.archive_log_group_name
}

output "config_secret_arn" {
  description = "ARN of the configuration secret."
  value       = module.config.secret_arn
}

output "functions" {
  description = "The Lambda functions: name, ARN and log group, by key."
  value       = { for key, fn in module.functions.functions : key => { function_name = fn.function_name, arn = fn.arn, log_group = fn.log_group } }
}

output "item_events_function_name" {
  description = "Name of the function that publishes ItemCreated from the table's stream."
  value       = module.functions.functions["item-events"].function_name
}

output "item_events_dlq_url" {
  description = "URL of the item-events dead-letter queue (aws sqs receive-message --queue-url; runbooks/item-events-dlq-depth.md)."
  value       = module.functions.item_events.dlq_url
}

output "access_log_group" {
  description = "Log group of the API's access logs."
  value       = module.api.access_log_group_name
}

output "dashboard_urls" {
  description = "Console URL of each dashboard."
  value       = module.observability.dashboard_urls
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarm actions."
  value       = module.observability.alarm_topic_arn
}

output "internal_invoke_policy_arn" {
  description = "IAM policy for on-call roles: execute-api:Invoke on POST /internal/* (opsctl reemit)."
  value       = module.api.internal_invoke_policy_arn
}
