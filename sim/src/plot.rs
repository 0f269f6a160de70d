//! A run as a picture (`--plot FILE.svg`): shards per node and each node's load score
//! over simulated time, fault windows shaded, migrations marked (started, completed,
//! aborted), the violation as a red line. Built from the run's trace lines, like the
//! timeline. Load scores are the load-based planner's, computed from the view each plan
//! was made from: the load as the coordinator saw it, at each plan.

use crate::oracle::Violation;
use crate::trace::{read_entries, TraceEntry, LIVENESS_PHASE_ACTION};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use shardsim_core::config::LoadWeights;
use shardsim_core::load::ClusterView;
use shardsim_core::planner::shard_scores;
use std::collections::BTreeMap;
use std::path::Path;

/// Both charts: simulated seconds across, a count or a score up.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// What the plot shows, read from trace lines.
#[derive(Debug, Default, PartialEq)]
pub struct PlotData {
    pub end_ms: u64,
    /// Per node: (time, shards it owns from then on).
    pub shards: BTreeMap<u64, Vec<(u64, u32)>>,
    /// Per node: (time of a plan, load score in the plan's view).
    pub load: BTreeMap<u64, Vec<(u64, f64)>>,
    /// Fault windows: (injected, healed).
    pub faults: Vec<(u64, u64)>,
    pub migrations_started: Vec<u64>,
    pub migrations_completed: Vec<u64>,
    pub migrations_aborted: Vec<u64>,
    pub violation_ms: Option<u64>,
}

impl PlotData {
    pub fn from_trace(lines: &[String], weights: &LoadWeights, violation: Option<&Violation>) -> PlotData {
        let mut data = PlotData { violation_ms: violation.map(|violation| violation.at_ms), ..PlotData::default() };
        let mut owners: BTreeMap<u64, u64> = BTreeMap::new();
        let mut open_faults: BTreeMap<String, u64> = BTreeMap::new();
        for entry in read_entries(lines) {
            data.end_ms = data.end_ms.max(entry.at_ms());
            let (at_ms, kind, fields) = match entry {
                TraceEntry::Nemesis { at_ms, action } => {
                    if action == LIVENESS_PHASE_ACTION {
                        // Every fault heals here, those without a heal of their own too.
                        data.faults.extend(std::mem::take(&mut open_faults).into_values().map(|start| (start, at_ms)));
                    } else if let Some(fault) = action.strip_prefix("inject ") {
                        // A clock step or drift changes a reading, not a window of time:
                        // shading it to the liveness phase would shade the whole run.
                        if !fault.starts_with("Clock") {
                            open_faults.insert(fault.to_string(), at_ms);
                        }
                    } else if let Some(start) = action.strip_prefix("heal ").and_then(|fault| open_faults.remove(fault))
                    {
                        data.faults.push((start, at_ms));
                    }
                    continue;
                }
                TraceEntry::Observation { at_ms, kind, fields, .. } => (at_ms, kind, fields),
            };
            match kind.as_str() {
                "ShardAllocated" | "RoutingCommitted" | "ShardRehomed" | "ShardRecreated" => {
                    let (Some(shard), Some(owner)) = (fields["shard"].as_u64(), fields["owner"].as_u64()) else {
                        continue;
                    };
                    owners.insert(shard, owner);
                    data.record_counts(at_ms, &owners);
                    if kind == "RoutingCommitted" {
                        data.migrations_completed.push(at_ms);
                    }
                }
                "NodeBooted" => {
                    // A node counts from its first boot, with no shards until it gets some.
                    if let Some(node) = fields["node"].as_u64() {
                        data.shards.entry(node).or_insert_with(|| vec![(at_ms, 0)]);
                    }
                }
                "MigrationStarted" => data.migrations_started.push(at_ms),
                "MigrationAborted" => data.migrations_aborted.push(at_ms),
                "PlanDispatched" => {
                    let Ok(view) = serde_json::from_value::<ClusterView>(fields["view"].clone()) else { continue };
                    let scores = shard_scores(&view, weights);
                    let mut per_node: BTreeMap<u64, f64> =
                        view.nodes.iter().map(|node| (u64::from(node.node.0), 0.0)).collect();
                    for (shard, score) in view.shards.iter().zip(scores) {
                        *per_node.entry(u64::from(shard.owner.0)).or_default() += score;
                    }
                    for (node, score) in per_node {
                        data.load.entry(node).or_default().push((at_ms, score));
                    }
                }
                _ => {}
            }
        }
        let end_ms = data.violation_ms.unwrap_or(0).max(data.end_ms);
        data.end_ms = end_ms;
        data.faults.extend(open_faults.into_values().map(|start| (start, end_ms)));
        data.faults.sort_unstable();
        data
    }

    fn record_counts(&mut self, at_ms: u64, owners: &BTreeMap<u64, u64>) {
        let mut counts: BTreeMap<u64, u32> = self.shards.keys().map(|node| (*node, 0)).collect();
        for owner in owners.values() {
            *counts.entry(*owner).or_default() += 1;
        }
        for (node, count) in counts {
            let series = self.shards.entry(node).or_default();
            if series.last().is_none_or(|(_, last)| *last != count) {
                series.push((at_ms, count));
            }
        }
    }

    /// Draws the two charts into an SVG file.
    pub fn draw_svg(&self, path: &Path, title: &str) -> Result<(), String> {
        let root = SVGBackend::new(path, (1100, 700)).into_drawing_area();
        self.draw(&root, title).map_err(|error| format!("cannot draw {}: {error}", path.display()))?;
        root.present().map_err(|error| format!("cannot write {}: {error}", path.display()))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
        title: &str,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 20))?;
        let (top, bottom) = root.split_vertically(360);
        let end_s = (self.end_ms.max(1) as f64) / 1000.0;
        let shards_max = self.shards.values().flatten().map(|(_, count)| *count).max().unwrap_or(1).max(1);
        let mut shards_chart = ChartBuilder::on(&top)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .caption(
                "shards per node (marks: migrations started ▲ blue, completed ● green, aborted ✕ red)",
                ("sans-serif", 14),
            )
            .build_cartesian_2d(0.0..end_s, 0.0..f64::from(shards_max) + 1.5)?;
        shards_chart.configure_mesh().x_desc("simulated s").y_desc("shards").draw()?;
        self.shade_faults(&mut shards_chart, f64::from(shards_max) + 1.5)?;
        let nodes = self.shards.len() as f64;
        for (position, (node, series)) in self.shards.iter().enumerate() {
            let color = Palette99::pick(position).to_rgba();
            // Nodes with equal counts would hide each other: each is drawn a little apart.
            let dodge = (position as f64 - (nodes - 1.0) / 2.0) * 0.06;
            let mut points = Vec::new();
            for (index, (at_ms, count)) in series.iter().enumerate() {
                let until_ms = series.get(index + 1).map_or(self.end_ms, |(next, _)| *next);
                points.push((*at_ms as f64 / 1000.0, f64::from(*count) + dodge));
                points.push((until_ms as f64 / 1000.0, f64::from(*count) + dodge));
            }
            shards_chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(format!("n{node}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        let marks_y = f64::from(shards_max) + 1.0;
        shards_chart.draw_series(
            self.migrations_started
                .iter()
                .map(|at| TriangleMarker::new((*at as f64 / 1000.0, marks_y), 5, BLUE.filled())),
        )?;
        shards_chart.draw_series(
            self.migrations_completed
                .iter()
                .map(|at| Circle::new((*at as f64 / 1000.0, marks_y - 0.3), 3, GREEN.filled())),
        )?;
        shards_chart.draw_series(
            self.migrations_aborted
                .iter()
                .map(|at| Cross::new((*at as f64 / 1000.0, marks_y - 0.6), 4, RED.stroke_width(2))),
        )?;
        self.mark_violation(&mut shards_chart, f64::from(shards_max) + 1.5)?;
        shards_chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;

        let load_max = self.load.values().flatten().map(|(_, score)| *score).fold(0.0, f64::max).max(0.1) * 1.1;
        let mut load_chart = ChartBuilder::on(&bottom)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .caption(
                "load score per node at each plan (the load-based planner's measure; faults shaded)",
                ("sans-serif", 14),
            )
            .build_cartesian_2d(0.0..end_s, 0.0..load_max)?;
        load_chart.configure_mesh().x_desc("simulated s").y_desc("load score").draw()?;
        self.shade_faults(&mut load_chart, load_max)?;
        for (position, (node, series)) in self.load.iter().enumerate() {
            let color = Palette99::pick(position).to_rgba();
            let points: Vec<(f64, f64)> = series.iter().map(|(at, score)| (*at as f64 / 1000.0, *score)).collect();
            load_chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(format!("n{node}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
            load_chart.draw_series(points.into_iter().map(|point| Circle::new(point, 2, color.filled())))?;
        }
        self.mark_violation(&mut load_chart, load_max)?;
        if !self.load.is_empty() {
            load_chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
        Ok(())
    }

    fn shade_faults<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
        top: f64,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        chart.draw_series(self.faults.iter().map(|(start, end)| {
            Rectangle::new([(*start as f64 / 1000.0, 0.0), (*end as f64 / 1000.0, top)], RED.mix(0.05).filled())
        }))?;
        Ok(())
    }

    fn mark_violation<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
        top: f64,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        if let Some(at) = self.violation_ms {
            let x = at as f64 / 1000.0;
            chart.draw_series(std::iter::once(PathElement::new(vec![(x, 0.0), (x, top)], RED.stroke_width(2))))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::PlotData;
    use shardsim_core::config::LoadWeights;

    #[test]
    fn ownership_faults_and_migrations_are_read_from_the_trace() {
        let lines: Vec<String> = [
            r#"{"t_ms":1,"actor":"n1","observation":{"NodeBooted":{"node":1}}}"#,
            r#"{"t_ms":1,"actor":"n2","observation":{"NodeBooted":{"node":2}}}"#,
            r#"{"t_ms":5,"actor":"coordinator","observation":{"ShardAllocated":{"shard":0,"owner":1,"epoch":1}}}"#,
            r#"{"t_ms":5,"actor":"coordinator","observation":{"ShardAllocated":{"shard":1,"owner":1,"epoch":1}}}"#,
            r#"{"t_ms":8,"nemesis":"inject Join { node: NodeId(3) }"}"#,
            r#"{"t_ms":9,"nemesis":"inject Loss { rate_permille: 10, heal_after_ms: 3 }"}"#,
            r#"{"t_ms":10,"actor":"coordinator","observation":{"MigrationStarted":{"migration":1,"shard":1}}}"#,
            r#"{"t_ms":12,"nemesis":"heal Loss { rate_permille: 10, heal_after_ms: 3 }"}"#,
            r#"{"t_ms":20,"actor":"coordinator","observation":{"RoutingCommitted":{"migration":1,"shard":1,"owner":2}}}"#,
            r#"{"t_ms":30,"nemesis":"liveness phase: all faults healed"}"#,
        ]
        .map(String::from)
        .to_vec();
        let data = PlotData::from_trace(&lines, &LoadWeights::default(), None);
        assert_eq!(data.shards[&1], vec![(1, 0), (5, 1), (5, 2), (20, 1)]);
        assert_eq!(data.shards[&2], vec![(1, 0), (20, 1)]);
        assert_eq!(data.faults, vec![(8, 30), (9, 12)], "a fault with no heal of its own ends at the liveness phase");
        assert_eq!((data.migrations_started.clone(), data.migrations_completed.clone()), (vec![10], vec![20]));
        assert_eq!(data.end_ms, 30);
    }
}
