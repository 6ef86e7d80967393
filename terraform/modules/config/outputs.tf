output "secret_arn" {
  description = "ARN of the configuration secret."
  value       = aws_secretsmanager_secret.config.arn
}

output "secret_name" {
  description = "Name of the configuration secret."
  value       = aws_secretsmanager_secret.config.name
}
