output "api_id" {
  description = "Id of the HTTP API (the ApiId dimension of its metrics)."
  value       = aws_apigatewayv2_api.http.id
}

output "api_url" {
  description = "Base URL of the API."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "stage_name" {
  description = "Name of the stage (the Stage dimension of its metrics)."
  value       = aws_apigatewayv2_stage.default.name
}

output "access_log_group_name" {
  description = "Log group of the access logs."
  value       = aws_cloudwatch_log_group.access.name
}

output "execution_arn" {
  description = "Execution ARN of the API, for IAM policies of /internal/* callers."
  value       = aws_apigatewayv2_api.http.execution_arn
}

output "internal_invoke_policy_arn" {
  description = "IAM policy allowing execute-api:Invoke on POST /internal/*: attach it to on-call roles."
  value       = aws_iam_policy.internal_invoke.arn
}
