# One Lambda per binary of functions/src/bin, each with its log group (made first, so the
# function never creates one without retention), its own role and the environment it reads.
# The variable names are functions::settings::env (the items function refuses to start without
# the required ones); a conformance test holds this file to them. `trigger` says who invokes it:
# the HTTP API (modules/api makes its integrations) or the table's stream (the mapping below).
# `tracing` is the function's X-Ray mode (docs/cost.md, X-Ray): Active where on-call reads the
# function's traces (the runbooks filter service("items-api-items") and
# service("items-api-item-events")); PassThrough for public, which no runbook traces: an HTTP API
# sends no trace header, so it is never traced and costs no trace.
locals {
  functions = {
    items = {
      trigger     = "api"
      tracing     = "Active"
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
      trigger     = "api"
      tracing     = "PassThrough"
      description = "GET /public."
      environment = {
        POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
        POWERTOOLS_SERVICE_NAME      = "public"
        LOG_LEVEL                    = var.log_level
      }
    }
    # Publishes ItemCreated for each item the table's stream reports as inserted.
    "item-events" = {
      trigger     = "stream"
      tracing     = "Active"
      description = "ItemCreated on EventBridge for each new item of the table's stream."
      environment = {
        EVENT_BUS_NAME               = var.event_bus_name
        POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
        POWERTOOLS_SERVICE_NAME      = "item-events"
        LOG_LEVEL                    = var.log_level
      }
    }
  }

  # What only one function may do, by function key (the documents below).
  own_policies = {
    items         = data.aws_iam_policy_document.items.json
    "item-events" = data.aws_iam_policy_document.item_events.json
  }

  function_names = { for key, _ in local.functions : key => "${var.name_prefix}-${key}" }

  # Lambda filters the functions' JSON lines by their `level`, and gives a line without one (an
  # EMF document) INFO: it never filters above INFO, so no metric is dropped; the functions'
  # LOG_LEVEL filters their own lines further.
  application_log_level = contains(["TRACE", "DEBUG"], var.log_level) ? var.log_level : "INFO"
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_338:Seven days of function logs is deliberate: on-call reads recent logs, metrics keep the long view.
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' own key; the functions never log secrets, tokens or item bodies.
  for_each = local.functions

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
  # Standard: the groups carry the EMF documents CloudWatch turns into metrics, which only the
  # Standard class extracts (docs/cost.md, Log classes).
  log_group_class = "STANDARD"
  tags            = var.tags
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

# What only the item-events function may do: read the table's stream (Lambda's event source
# mapping reads it with the function's role), publish on the bus, and send what it gives up on to
# the dead-letter queue (the mapping's on-failure destination, also with the function's role).
data "aws_iam_policy_document" "item_events" {
  statement {
    # The stream's ARN ends in its label, a timestamp with colons (…/stream/2026-12-07T14:00:00.000),
    # which parliament's ARN parser splits as more ARN fields:
    # cloudsplaining:allow=dynamodb:DescribeStream:The resource is the table's stream ARN; parliament misreads the colons of its label.
    # cloudsplaining:allow=dynamodb:GetRecords:The resource is the table's stream ARN; parliament misreads the colons of its label.
    # cloudsplaining:allow=dynamodb:GetShardIterator:The resource is the table's stream ARN; parliament misreads the colons of its label.
    sid       = "ItemsStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    resources = [var.table_stream_arn]
  }

  statement {
    # ListStreams has no resource-level permissions: "*" is the narrowest resource.
    sid       = "ListStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["*"]
  }

  statement {
    sid       = "PublishItemCreated"
    actions   = ["events:PutEvents"]
    resources = [var.event_bus_arn]
  }

  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.item_events_dlq.arn]
  }
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  source_policy_documents = [for key, json in local.own_policies : json if key == each.key]

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
  #checkov:skip=CKV_AWS_116:Invoked synchronously, by API Gateway or by the stream's event source mapping; a function's dead-letter queue only serves asynchronous invocations (the mapping has its own on-failure queue).
  #checkov:skip=CKV_AWS_117:No function reaches anything inside a VPC: they call the public endpoints of DynamoDB, EventBridge and Secrets Manager, or nothing.
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

  # JSON: Lambda's own records become JSON objects and can be filtered by level; at WARN it
  # writes none on a successful invocation (no START, END or REPORT: docs/cost.md). The
  # functions' lines are JSON already and are kept as they are.
  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function[each.key].name
    application_log_level = local.application_log_level
    system_log_level      = var.system_log_level
  }

  tracing_config {
    mode = each.value.tracing
  }

  depends_on = [
    aws_cloudwatch_log_group.function,
    aws_iam_role_policy.function,
  ]
}

# Where the mapping sends what it gives up on (retries or record age exhausted): for a stream
# source Lambda sends a description of the batch (shard, sequence numbers, arrival times), not the
# records; runbooks/item-events-dlq-depth.md says how to re-emit them.
resource "aws_sqs_queue" "item_events_dlq" {
  name                      = "${var.name_prefix}-item-events-dlq"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600 # 14 days, SQS's longest
  tags                      = var.tags
}

# Lambda reads the table's stream and invokes item-events with the INSERTs of items only: the
# filter (events/item-events.filter.json, which the local twin applies too) drops idempotency
# records (they carry `fingerprint`), updates and removals before any invocation. One failed
# record stops its batch there (ReportBatchItemFailures); a failing batch is halved until the
# poison record stands alone, and retried until the limits below, then described on the queue.
resource "aws_lambda_event_source_mapping" "item_events" {
  event_source_arn  = var.table_stream_arn
  function_name     = aws_lambda_function.function["item-events"].arn
  starting_position = "TRIM_HORIZON"

  batch_size                         = var.item_events_mapping.batch_size
  maximum_batching_window_in_seconds = var.item_events_mapping.batching_window_seconds
  maximum_retry_attempts             = var.item_events_mapping.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.item_events_mapping.maximum_record_age_seconds
  bisect_batch_on_function_error     = true
  function_response_types            = ["ReportBatchItemFailures"]

  filter_criteria {
    filter {
      pattern = jsonencode(jsondecode(var.item_events_filter))
    }
  }

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.item_events_dlq.arn
    }
  }

  tags = var.tags
}
