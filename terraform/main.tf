# The items API on AWS: API Gateway (HTTP API) -> Lambda -> DynamoDB, EventBridge -> CloudWatch
# Logs archive, Cognito, Secrets Manager, X-Ray, CloudWatch dashboards and alarms. The local twin
# plays the same stack on one machine, from the same facts (routes, names, event pattern,
# throttling, access log format); the tests in conformance/ keep the two together.
data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  repository_root = "${path.root}/.."

  # The names the local twin uses too (local::settings::names).
  names = {
    event_bus         = var.name
    item_created_rule = "${var.name}-item-created"
    archive_log_group = "/aws/events/${var.name}"
    event_archive     = var.name
    items_table       = var.items_table_name
    config_secret     = "${var.name}/config"
  }

  # Made by terraform/bootstrap (modules/ci), which the pipeline cannot change: every role this
  # stack makes carries it, so no policy the pipeline writes can reach past it.
  permissions_boundary_arn = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:policy/${var.name}-workload-boundary"

  hosted_ui_domain_prefix = coalesce(var.hosted_ui_domain_prefix, "${var.name}-${data.aws_caller_identity.current.account_id}")
}

module "data" {
  source = "./modules/data"

  table_name          = local.names.items_table
  deletion_protection = var.table_deletion_protection
}

module "events" {
  source = "./modules/events"

  bus_name               = local.names.event_bus
  item_created_rule_name = local.names.item_created_rule
  # The same file the twin's bus matches events against (functions::events::ITEM_CREATED_RULE_PATTERN).
  item_created_pattern         = file("${local.repository_root}/events/item-created.rule.json")
  archive_log_group_name       = local.names.archive_log_group
  archive_name                 = local.names.event_archive
  log_retention_days           = var.log_retention_days
  event_archive_retention_days = var.event_archive_retention_days
}

module "config" {
  source = "./modules/config"

  secret_name          = local.names.config_secret
  recovery_window_days = var.secret_recovery_window_days
}

module "functions" {
  source = "./modules/functions"

  name_prefix        = var.name
  artifacts_dir      = var.artifacts_dir
  architecture       = var.lambda_architecture
  memory_size        = var.lambda_memory_mb
  timeout            = var.lambda_timeout_seconds
  log_level          = var.log_level
  system_log_level   = var.lambda_system_log_level
  log_retention_days = var.log_retention_days
  metrics_namespace  = var.metrics_namespace
  table_name         = module.data.table_name
  table_arn          = module.data.table_arn
  event_bus_name     = module.events.bus_name
  event_bus_arn      = module.events.bus_arn
  config_secret_arn  = module.config.secret_arn

  permissions_boundary_arn = local.permissions_boundary_arn
  reserved_concurrency     = var.lambda_reserved_concurrency

  # ItemCreated from the table's stream. The filter is the file the twin's mapping applies too.
  table_stream_arn   = module.data.stream_arn
  item_events_filter = file("${local.repository_root}/events/item-events.filter.json")
  item_events_mapping = {
    batch_size                 = var.item_events_batch_size
    batching_window_seconds    = var.item_events_batching_window_seconds
    maximum_retry_attempts     = var.item_events_maximum_retry_attempts
    maximum_record_age_seconds = var.item_events_maximum_record_age_seconds
  }
}

module "auth" {
  source = "./modules/auth"

  name                = var.name
  domain_prefix       = local.hosted_ui_domain_prefix
  callback_urls       = var.callback_urls
  logout_urls         = var.logout_urls
  self_sign_up        = var.self_sign_up
  deletion_protection = var.user_pool_deletion_protection
}

module "api" {
  source = "./modules/api"

  name               = var.name
  functions          = { for key, fn in module.functions.functions : key => fn if fn.trigger == "api" }
  jwt_issuer         = module.auth.issuer
  jwt_audience       = [module.auth.app_client_id]
  throttle_rate      = var.throttle_rate
  throttle_burst     = var.throttle_burst
  cors_allow_origins = var.cors_allow_origins
  log_retention_days = var.log_retention_days
}

module "observability" {
  source = "./modules/observability"

  name                  = var.name
  dashboards_dir        = "${local.repository_root}/dashboards"
  alarms_dir            = "${local.repository_root}/alarms"
  slos_dir              = "${local.repository_root}/slos"
  repository_root       = local.repository_root
  runbook_base_url      = var.runbook_base_url
  alarm_emails          = var.alarm_emails
  alarm_https_endpoints = var.alarm_https_endpoints
  alarm_topic_arns      = var.alarm_topic_arns
  ticket_emails         = var.ticket_emails
  ticket_topic_arns     = var.ticket_topic_arns

  # What the dashboard and alarm templates may use (the list is in the module's README).
  placeholders = {
    region                = var.region
    account_id            = data.aws_caller_identity.current.account_id
    api_id                = module.api.api_id
    stage                 = module.api.stage_name
    items_function        = module.functions.functions.items.function_name
    public_function       = module.functions.functions.public.function_name
    item_events_function  = module.functions.functions["item-events"].function_name
    item_events_dlq       = module.functions.item_events.dlq_name
    table                 = module.data.table_name
    event_bus             = module.events.bus_name
    item_created_rule     = module.events.item_created_rule_name
    archive_log_group     = module.events.archive_log_group_name
    metrics_namespace     = var.metrics_namespace
    items_log_group       = module.functions.functions.items.log_group
    public_log_group      = module.functions.functions.public.log_group
    item_events_log_group = module.functions.functions["item-events"].log_group
    access_log_group      = module.api.access_log_group_name
    items_timeout_ms      = tostring(var.lambda_timeout_seconds * 1000)
  }
}
