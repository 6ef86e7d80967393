output "user_pool_id" {
  description = "Id of the user pool."
  value       = aws_cognito_user_pool.users.id
}

output "user_pool_arn" {
  description = "ARN of the user pool."
  value       = aws_cognito_user_pool.users.arn
}

output "app_client_id" {
  description = "Id of the Hosted UI app client: the audience of the ID tokens."
  value       = aws_cognito_user_pool_client.hosted_ui.id
}

output "issuer" {
  description = "Issuer of the pool's tokens (the JWT authorizer's issuer)."
  value       = "https://${aws_cognito_user_pool.users.endpoint}"
}

output "hosted_ui_url" {
  description = "Base URL of the Hosted UI."
  value       = "https://${aws_cognito_user_pool_domain.hosted_ui.domain}.auth.${data.aws_region.current.region}.amazoncognito.com"
}
