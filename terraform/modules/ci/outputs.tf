output "plan_role_arn" {
  description = "ARN of the plan role: the repository variable AWS_PLAN_ROLE_ARN."
  value       = aws_iam_role.plan.arn
}

output "apply_role_arn" {
  description = "ARN of the apply role: the repository variable AWS_APPLY_ROLE_ARN."
  value       = aws_iam_role.apply.arn
}

output "workload_boundary_arn" {
  description = "ARN of the permissions boundary every role of the stack carries."
  value       = aws_iam_policy.workload_boundary.arn
}

output "oidc_provider_arn" {
  description = "ARN of the account's GitHub OIDC provider."
  value       = local.oidc_arn
}

output "trusted_subjects" {
  description = "The OIDC subjects each role trusts."
  value       = local.subjects
}
