# One Lambda per binary of functions/src/bin, each with its log group (made first, so the
# function never creates one without retention), its own role and the environment it reads.
# The variable names are functions::settings::env (the items function refuses to start without
# the required ones); a conformance test holds this file to them.
locals {
  functions = {
    items = {
      description = "The item routes on DynamoDB, EventBridge and Secrets Manager."
      environment = {
        ITEMS_TABLE                  = var.table_name
        EVENT_BUS_NAME               = var.event_bus_name
        CONFIG_SECRET_ID             = var.config_secret_arn
        CONFIG_SECRET_TTL_SECONDS    = tostring(var.config_secret_ttl_seconds)
        POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
        POWERTOOLS_SERVICE_NAME      = "items"
        LOG_LEVEL                    = var.log_level
      }
    }
    # Links no AWS client: logs, metrics and traces only.
    public = {
      description = "GET /public."
      environment = {
        POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
        POWERTOOLS_SERVICE_NAME      = "public"
        LOG_LEVEL                    = var.log_level
      }
    }
  }

  function_names = { for key, _ in local.functions : key => "${var.name_prefix}-${key}" }
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_338:Seven days of function logs is deliberate: on-call reads recent logs, metrics keep the long view.
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' own key; the functions never log secrets, tokens or item bodies.
  for_each = local.functions

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumes"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name                 = "${local.function_names[each.key]}-function"
  description          = "Runs the ${local.function_names[each.key]} Lambda."
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

# What only the items function may do: the exact actions of its adapters on the exact resources.
data "aws_iam_policy_document" "items" {
  statement {
    # Scan: the operator replay's sweep across owners (POST /internal/events/replay).
    sid       = "ItemsTable"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan"]
    resources = [var.table_arn]
  }

  statement {
    sid       = "ItemEvents"
    actions   = ["events:PutEvents"]
    resources = [var.event_bus_arn]
  }

  statement {
    sid       = "ConfigSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.config_secret_arn]
  }
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  source_policy_documents = each.key == "items" ? [data.aws_iam_policy_document.items.json] : []

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  statement {
    # X-Ray has no resource-level permissions for these actions: "*" is the narrowest resource.
    sid       = "Traces"
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name   = "least-privilege"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_lambda_function" "function" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway; a dead-letter queue only serves asynchronous invocations.
  #checkov:skip=CKV_AWS_117:Neither function reaches anything inside a VPC: items calls the public endpoints of DynamoDB, EventBridge and Secrets Manager, public calls nothing.
  #checkov:skip=CKV_AWS_115:Unreserved unless reserved_concurrency says otherwise: a new account's quota can be 10 with 10 kept unreserved, so any reservation would fail the first deploy (numbers in terraform/README.md).
  #checkov:skip=CKV_AWS_173:The environment holds resource names only, nothing secret (the secret is read from Secrets Manager).
  #checkov:skip=CKV_AWS_272:Zips are built and deployed by the same pipeline from the reviewed commit; no code signing profile yet.
  for_each = local.functions

  function_name    = local.function_names[each.key]
  description      = each.value.description
  role             = aws_iam_role.function[each.key].arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = "${var.artifacts_dir}/${each.key}/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.artifacts_dir}/${each.key}/bootstrap.zip")
  memory_size      = var.memory_size
  timeout          = var.timeout
  tags             = var.tags

  # -1: no reservation, the account's unreserved pool.
  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, -1)

  environment {
    variables = each.value.environment
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [
    aws_cloudwatch_log_group.function,
    aws_iam_role_policy.function,
  ]
}
