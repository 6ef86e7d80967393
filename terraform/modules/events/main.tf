# The project's own bus: `items.api` puts `ItemCreated` here.
resource "aws_cloudwatch_event_bus" "items" {
  name = var.bus_name
  tags = var.tags
}

# Archives every item event in a log group, in the envelope EventBridge delivers (the twin
# writes the same envelope to its own archive). The pattern is the repository's JSON file that
# the twin's bus reads too.
resource "aws_cloudwatch_event_rule" "item_created" {
  name           = var.item_created_rule_name
  description    = "Every ItemCreated event, to the archive log group."
  event_bus_name = aws_cloudwatch_event_bus.items.name
  event_pattern  = var.item_created_pattern
  tags           = var.tags
}

resource "aws_cloudwatch_log_group" "archive" {
  #checkov:skip=CKV_AWS_338:Seven days is the archive's deliberate retention; replay beyond it comes from the EventBridge archive.
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' own key; events carry ids, not item bodies.
  name              = var.archive_log_group_name
  retention_in_days = var.log_retention_days
  # Standard: on-call's request query reads the archive together with the functions' groups,
  # and a dashboard draws its AWS/Logs IncomingLogEvents (docs/cost.md, Log classes).
  log_group_class = "STANDARD"
  tags            = var.tags
}

resource "aws_cloudwatch_event_target" "archive" {
  rule           = aws_cloudwatch_event_rule.item_created.name
  event_bus_name = aws_cloudwatch_event_bus.items.name
  target_id      = "archive-log-group"
  arn            = aws_cloudwatch_log_group.archive.arn
}

# EventBridge writes to CloudWatch Logs under a log resource policy. An account has at most ten
# of these per region, so this stack keeps to one, scoped to its rule and its log group.
data "aws_iam_policy_document" "events_to_logs" {
  statement {
    sid       = "EventBridgeWritesTheArchive"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.archive.arn}:*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.item_created.arn]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "events_to_logs" {
  policy_name     = "${var.bus_name}-events-to-logs"
  policy_document = data.aws_iam_policy_document.events_to_logs.json
}

# Every event on the bus, kept for replay (`aws events start-replay`) after a consumer's outage.
resource "aws_cloudwatch_event_archive" "items" {
  name             = var.archive_name
  description      = "Every event of the ${var.bus_name} bus, for replay."
  event_source_arn = aws_cloudwatch_event_bus.items.arn
  retention_days   = var.event_archive_retention_days
}
