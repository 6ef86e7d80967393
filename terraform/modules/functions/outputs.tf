output "functions" {
  description = "Each function by key (items, public): name, ARN, invoke ARN, role and log group."
  value = {
    for key, fn in aws_lambda_function.function : key => {
      function_name = fn.function_name
      arn           = fn.arn
      invoke_arn    = fn.invoke_arn
      role_arn      = aws_iam_role.function[key].arn
      log_group     = aws_cloudwatch_log_group.function[key].name
    }
  }
}
