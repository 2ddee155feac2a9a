# Retention: how long the broker keeps each source's records, from the
# agreement (data.agreements.retention). Not a decision: the broker's
# retention task reads data.concord.retention.periods, a map from source to
# {"years": n} or {"days": n}, and deletes records whose event date is
# older. Only the agreement's sources are listed, so a stray key in the data
# never names a table the broker would act on; a source without a period is
# kept (the task never deletes on a guess).
package concord.retention

periods := {source: period |
	some source, period in data.agreements.retention
	data.agreements.sources[source]
}
