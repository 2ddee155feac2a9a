//! `concord.v1.Linkage`: the review queue of possible matches, for the
//! roles the `link_review` policy allows. A review says how the pair
//! agreed: the match weight (bits), the match probability and each
//! field's comparison level.

use std::sync::Arc;

use concord_linkage::Model;
use concord_policy::Action;
use concord_proto::v1::{self, linkage_server::Linkage as LinkageRpc};
use concord_store::{ReviewStatus, ReviewView};
use tonic::{Request, Response, Status};

use crate::{Broker, error::ServerError, identity::caller, linkage::LinkageError};

pub struct ReviewService {
    broker: Arc<Broker>,
}

impl ReviewService {
    pub fn new(broker: Arc<Broker>) -> Self {
        ReviewService { broker }
    }
}

fn wire(v: ReviewView) -> v1::LinkReview {
    v1::LinkReview {
        review_id: v.review.id,
        score: v.review.score,
        match_probability: Model::probability(v.review.score),
        field_levels: v
            .review
            .levels
            .iter()
            .map(|l| v1::FieldLevel {
                field: l.field().to_owned(),
                level: l.level().to_owned(),
            })
            .collect(),
        status: v.review.status.as_str().to_owned(),
        record_source: v.record_source,
        record_kind: v.record_kind,
        record_event_date: v.record_event_date.to_string(),
        candidate_sources: v.candidate_sources,
        created_at: v
            .review
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        resolved_by: v.review.resolved_by.unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl LinkageRpc for ReviewService {
    #[tracing::instrument(skip_all, fields(org))]
    async fn list_reviews(
        &self,
        request: Request<v1::ListReviewsRequest>,
    ) -> Result<Response<v1::ListReviewsResponse>, Status> {
        let who = caller(&request)?;
        tracing::Span::current().record("org", who.org.as_str());
        self.broker.authorise(&who, Action::LinkReview, &[]).await?;
        let pending_only = !request.into_inner().include_resolved;
        let views = self
            .broker
            .store
            .review_views(pending_only)
            .await
            .map_err(ServerError::from)?;
        Ok(Response::new(v1::ListReviewsResponse {
            reviews: views.into_iter().map(wire).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(org))]
    async fn resolve_review(
        &self,
        request: Request<v1::ResolveReviewRequest>,
    ) -> Result<Response<v1::LinkReview>, Status> {
        let who = caller(&request)?;
        tracing::Span::current().record("org", who.org.as_str());
        self.broker.authorise(&who, Action::LinkReview, &[]).await?;
        let req = request.into_inner();
        let store = &self.broker.store;
        let review = store
            .review(req.review_id)
            .await
            .map_err(ServerError::from)?
            .filter(|r| r.status == ReviewStatus::Pending)
            .ok_or_else(|| ServerError::NotFound("no pending review has that id".into()))?;
        self.broker
            .linkage
            .resolve(store, &review, req.accept, &who.user)
            .await
            .map_err(|e| match e {
                LinkageError::Store(s) => ServerError::from(s),
                other => ServerError::FailedPrecondition(other.to_string()),
            })?;
        tracing::info!(accept = req.accept, "link review resolved");
        let view = store
            .review_views(false)
            .await
            .map_err(ServerError::from)?
            .into_iter()
            .find(|v| v.review.id == review.id)
            .ok_or_else(|| ServerError::NotFound("the review is gone".into()))?;
        Ok(Response::new(wire(view)))
    }
}
