output "deploy_role_arn" {
  description = "Set as the repository variable AWS_DEPLOY_ROLE_ARN."
  value       = module.ci.deploy_role_arn
}

output "trusted_subject" {
  description = "The only OIDC subject the deploy role trusts."
  value       = module.ci.trusted_subject
}
