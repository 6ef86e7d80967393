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

  # Every paging alarm notifies the stack's topic and the existing topics given, on ALARM and on
  # OK, so the one paged also hears when it is over.
  alarm_targets = concat([aws_sns_topic.alarms.arn], var.alarm_topic_arns)

  # Tickets (work for office hours) go to their own topic, never to the pager.
  ticket_targets = concat([aws_sns_topic.tickets.arn], var.ticket_topic_arns)

  # Where an alarm of alarms/*.json notifies, by its `notify` (runbooks/README.md says why each
  # alarm has its own): "page", "ticket", or "none" (a cause shown on the dashboards, for
  # diagnosis; the SLO alarms page for its effect).
  notify_targets = {
    page   = local.alarm_targets
    ticket = local.ticket_targets
    none   = []
  }

  # SLOs (slos/*.json, shape in slos/README.md) and the burn-rate policy every one of them gets.
  # Names and expressions are those of the Rust module local::slo (a conformance test evaluates
  # these against it).
  slo_policy = jsondecode(file("${var.slos_dir}/burn-rates.json"))
  slos = [
    for file in sort(fileset(var.slos_dir, "*.json")) :
    jsondecode(templatefile("${var.slos_dir}/${file}", local.placeholders)) if file != "burn-rates.json"
  ]

  # One composite alarm per (SLO, alert), keyed <slo>-<alert>...
  slo_alerts = {
    for pair in flatten([for slo in local.slos : [for alert in local.slo_policy.alerts : { slo = slo, alert = alert }]]) :
    "${pair.slo.name}-${pair.alert.name}" => pair
  }

  # ...and its two window alarms, keyed <slo>-<alert>-<long|short>.
  slo_windows = {
    for w in flatten([for key, pair in local.slo_alerts : [
      { key = "${key}-long", slo = pair.slo, alert = pair.alert, window = "long", minutes = pair.alert.long_window_minutes },
      { key = "${key}-short", slo = pair.slo, alert = pair.alert, window = "short", minutes = pair.alert.short_window_minutes },
    ]]) : w.key => w
  }
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

# Tickets: the SLOs' slow-drift alerts and the alarms kept as tickets. Same key, same rule:
# only this stack's alarms publish.
resource "aws_sns_topic" "tickets" {
  name              = "${var.name}-tickets"
  kms_master_key_id = aws_kms_key.alarms.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "ticket_topic" {
  statement {
    sid       = "CloudWatchTicketsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.tickets.arn]

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

resource "aws_sns_topic_policy" "tickets" {
  arn    = aws_sns_topic.tickets.arn
  policy = data.aws_iam_policy_document.ticket_topic.json
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

resource "aws_sns_topic_subscription" "ticket_email" {
  for_each = toset(var.ticket_emails)

  topic_arn = aws_sns_topic.tickets.arn
  protocol  = "email"
  endpoint  = each.value
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
  alarm_actions       = local.notify_targets[each.value.notify]
  ok_actions          = local.notify_targets[each.value.notify]
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

    precondition {
      condition     = contains(["page", "ticket", "none"], each.value.notify)
      error_message = "Alarm ${each.key}: notify is page, ticket or none."
    }
  }
}

# One window alarm per (SLO, alert, window): the burn rate of the SLO's error budget over the
# window (its metrics' period; one evaluation period), against the alert's burn rate. No
# actions: the composite below is what notifies. No traffic is no burn.
resource "aws_cloudwatch_metric_alarm" "slo_window" {
  for_each = local.slo_windows

  alarm_name          = "${var.name}-slo-${each.value.slo.name}-${each.value.alert.name}-${each.value.window}"
  alarm_description   = "${each.value.slo.title}: burn rate of the error budget over the last ${each.value.minutes} minutes above ${each.value.alert.burn_rate} (${each.value.window} window of slo-${each.value.slo.name}-${each.value.alert.name}). Runbook: ${var.runbook_base_url}/${each.value.slo.runbook}"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  threshold           = each.value.alert.burn_rate
  treat_missing_data  = "notBreaching"
  alarm_actions       = []
  ok_actions          = []
  tags                = var.tags

  # The SLI's metrics, each over one period as long as the window.
  dynamic "metric_query" {
    for_each = each.value.slo.sli.metrics

    content {
      id          = metric_query.value.Id
      return_data = false

      metric {
        namespace   = metric_query.value.MetricStat.Metric.Namespace
        metric_name = metric_query.value.MetricStat.Metric.MetricName
        dimensions  = { for d in try(metric_query.value.MetricStat.Metric.Dimensions, []) : d.Name => d.Value }
        period      = each.value.minutes * 60
        stat        = metric_query.value.MetricStat.Stat
      }
    }
  }

  metric_query {
    id          = "good"
    expression  = each.value.slo.sli.good
    return_data = false
  }

  metric_query {
    id          = "total"
    expression  = each.value.slo.sli.total
    return_data = false
  }

  metric_query {
    id          = "burn"
    expression  = "100 * (total - good) / total / (100 - ${each.value.slo.objective_percent})"
    label       = "burn rate over ${each.value.minutes} min"
    return_data = true
  }

  lifecycle {
    precondition {
      condition     = can(regex("^runbooks/[A-Za-z0-9._-]+\\.md$", each.value.slo.runbook)) && fileexists("${var.repository_root}/${each.value.slo.runbook}")
      error_message = "SLO ${each.value.slo.name}: its runbook must be a file runbooks/<name>.md of the repository."
    }

    precondition {
      condition     = each.value.slo.objective_percent > 0 && each.value.slo.objective_percent < 100 && each.value.slo.window_days == 30
      error_message = "SLO ${each.value.slo.name}: objective_percent is strictly between 0 and 100 and window_days is 30."
    }

    # CloudWatch: Period x EvaluationPeriods at most 7 days (at most 1 day for periods under an
    # hour, which one period under an hour always is).
    precondition {
      condition     = each.value.minutes >= 1 && each.value.minutes * 60 <= 604800
      error_message = "SLO alert ${each.value.alert.name}: a ${each.value.minutes}-minute window is longer than CloudWatch evaluates."
    }
  }
}

# One composite alarm per (SLO, alert): both windows burn too fast. The only SLO alarms that
# notify: pages to the alarm topic, tickets to the ticket topic.
resource "aws_cloudwatch_composite_alarm" "slo" {
  for_each = local.slo_alerts

  alarm_name        = "${var.name}-slo-${each.value.slo.name}-${each.value.alert.name}"
  alarm_description = "${each.value.slo.title}: the error budget (${each.value.slo.objective_percent} % over ${each.value.slo.window_days} days) burns more than ${each.value.alert.burn_rate} times as fast as it lasts, over the last ${each.value.alert.long_window_minutes} and ${each.value.alert.short_window_minutes} minutes. Severity ${each.value.alert.severity}. Owner: ${each.value.slo.owner}. Runbook: ${var.runbook_base_url}/${each.value.slo.runbook}"
  alarm_rule        = "ALARM(\"${aws_cloudwatch_metric_alarm.slo_window["${each.key}-long"].alarm_name}\") AND ALARM(\"${aws_cloudwatch_metric_alarm.slo_window["${each.key}-short"].alarm_name}\")"
  alarm_actions     = local.notify_targets[each.value.alert.severity]
  ok_actions        = local.notify_targets[each.value.alert.severity]
  tags              = var.tags

  lifecycle {
    precondition {
      condition     = contains(["page", "ticket"], each.value.alert.severity)
      error_message = "Burn-rate alert ${each.value.alert.name}: severity is page or ticket."
    }
  }
}
