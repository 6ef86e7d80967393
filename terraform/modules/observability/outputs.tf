output "dashboard_urls" {
  description = "Console URL of each dashboard, by file name."
  value = {
    for key, dashboard in aws_cloudwatch_dashboard.dashboard :
    key => "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards/dashboard/${dashboard.dashboard_name}"
  }
}

output "alarm_names" {
  description = "Name of each alarm, by file name."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.alarm : key => alarm.alarm_name }
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarm actions."
  value       = aws_sns_topic.alarms.arn
}
