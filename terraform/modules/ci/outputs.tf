output "deploy_role_arn" {
  description = "ARN of the deploy role: the repository variable AWS_DEPLOY_ROLE_ARN."
  value       = aws_iam_role.deploy.arn
}

output "oidc_provider_arn" {
  description = "ARN of the account's GitHub OIDC provider."
  value       = local.oidc_arn
}

output "trusted_subject" {
  description = "The only OIDC subject the role trusts."
  value       = local.subject
}
