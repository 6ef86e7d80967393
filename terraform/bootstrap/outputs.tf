output "plan_role_arn" {
  description = "Set as the repository variable AWS_PLAN_ROLE_ARN."
  value       = module.ci.plan_role_arn
}

output "apply_role_arn" {
  description = "Set as the repository variable AWS_APPLY_ROLE_ARN."
  value       = module.ci.apply_role_arn
}

output "state_bucket" {
  description = "Set as the repository variable TF_STATE_BUCKET (and give it to terraform init)."
  value       = module.state.bucket_name
}

output "workload_boundary_arn" {
  description = "The permissions boundary every role of the stack carries."
  value       = module.ci.workload_boundary_arn
}

output "trusted_subjects" {
  description = "The OIDC subjects each role trusts."
  value       = module.ci.trusted_subjects
}
