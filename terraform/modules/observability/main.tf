data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  # What this module names itself: alarms are <alarm_prefix>-<name>, and the dashboards link
  # them (and the runbooks) by these.
  placeholders = merge(var.placeholders, {
    alarm_prefix     = var.name
    runbook_base_url = var.runbook_base_url
  })

  # Versioned JSON in the repository, placeholders filled by templatefile. Either folder may be
  # empty or absent: fileset then finds nothing and nothing is made.
  dashboards = {
    for file in fileset(var.dashboards_dir, "*.json") :
    trimsuffix(file, ".json") => templatefile("${var.dashboards_dir}/${file}", local.placeholders)
  }

  alarms = {
    for file in fileset(var.alarms_dir, "*.json") :
    trimsuffix(file, ".json") => jsondecode(templatefile("${var.alarms_dir}/${file}", local.placeholders))
  }

  region = data.aws_region.current.region

  # Every alarm notifies the stack's topic and the existing topics given, on ALARM and on OK, so
  # the one paged also hears when it is over.
  alarm_targets = concat([aws_sns_topic.alarms.arn], var.alarm_topic_arns)
}

resource "aws_cloudwatch_dashboard" "dashboard" {
  for_each = local.dashboards

  dashboard_name = "${var.name}-${each.key}"
  dashboard_body = each.value
}

# Alarm actions go to an encrypted topic. CloudWatch cannot publish to a topic under the AWS
# managed key (aws/sns), whose policy cannot be changed: the topic has its own key.
data "aws_iam_policy_document" "alarm_key" {
  #checkov:skip=CKV_AWS_109:A key policy's resource "*" is the key itself; the account's principals manage it through IAM.
  #checkov:skip=CKV_AWS_111:A key policy's resource "*" is the key itself; CloudWatch may only encrypt for this account's alarms.
  #checkov:skip=CKV_AWS_356:A key policy's resource "*" is the key itself, never another resource.
  statement {
    # In a key policy, "*" is this key and nothing else.
    sid = "AccountManagesTheKey"
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:DisableKey",
      "kms:DisableKeyRotation",
      "kms:EnableKey",
      "kms:EnableKeyRotation",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    # In a key policy, "*" is this key and nothing else.
    sid       = "CloudWatchPublishesAlarms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description             = "Encrypts the ${var.name} alarm topic."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.alarm_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "alarms" {
  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.alarms.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "alarm_topic" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:cloudwatch:${local.region}:${data.aws_caller_identity.current.account_id}:alarm:${var.name}-*"]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarm_topic.json
}

# The people paged: each address must confirm its subscription (the e-mail's link) before it
# receives anything; an https endpoint (e.g. PagerDuty's SNS integration) confirms by visiting the
# SubscribeURL SNS posts to it, so Terraform does not wait for it.
resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "https" {
  for_each = toset(var.alarm_https_endpoints)

  topic_arn              = aws_sns_topic.alarms.arn
  protocol               = "https"
  endpoint               = each.value
  endpoint_auto_confirms = false
}

# One alarm per alarms/*.json (the shape is in this module's README). Each description ends
# with its runbook, and a plan fails if that runbook is not in the repository.
resource "aws_cloudwatch_metric_alarm" "alarm" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.value.name}"
  alarm_description   = "${each.value.description} Runbook: ${var.runbook_base_url}/${each.value.runbook}"
  comparison_operator = each.value.comparison
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = try(each.value.datapoints_to_alarm, null)
  threshold           = each.value.threshold
  treat_missing_data  = try(each.value.treat_missing_data, "missing")
  alarm_actions       = local.alarm_targets
  ok_actions          = local.alarm_targets
  tags                = var.tags

  # One metric...
  namespace          = try(each.value.metric.namespace, null)
  metric_name        = try(each.value.metric.name, null)
  dimensions         = try(each.value.metric.dimensions, null)
  statistic          = try(each.value.metric.stat, null)
  extended_statistic = try(each.value.metric.extended_stat, null)
  period             = can(each.value.metric) ? each.value.period : null

  # ...or metric math: CloudWatch's MetricDataQuery, as in PutMetricAlarm's Metrics.
  dynamic "metric_query" {
    for_each = try(each.value.metrics, [])

    content {
      id          = metric_query.value.Id
      expression  = try(metric_query.value.Expression, null)
      label       = try(metric_query.value.Label, null)
      return_data = try(metric_query.value.ReturnData, null)
      period      = try(metric_query.value.Period, null)
      account_id  = try(metric_query.value.AccountId, null)

      dynamic "metric" {
        for_each = can(metric_query.value.MetricStat) ? [metric_query.value.MetricStat] : []

        content {
          namespace   = metric.value.Metric.Namespace
          metric_name = metric.value.Metric.MetricName
          dimensions  = { for d in try(metric.value.Metric.Dimensions, []) : d.Name => d.Value }
          period      = metric.value.Period
          stat        = metric.value.Stat
          unit        = try(metric.value.Unit, null)
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = can(regex("^runbooks/[A-Za-z0-9._-]+\\.md$", each.value.runbook)) && fileexists("${var.repository_root}/${each.value.runbook}")
      error_message = "Alarm ${each.key}: its runbook must be a file runbooks/<name>.md of the repository."
    }

    precondition {
      condition     = can(each.value.metric) != can(each.value.metrics)
      error_message = "Alarm ${each.key}: give either metric or metrics, not both and not neither."
    }
  }
}
