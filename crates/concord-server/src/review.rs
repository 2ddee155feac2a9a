//! `concord.v1.Linkage`: the review queue of possible matches, for the
//! roles the `link_review` policy allows. A review says how the pair
//! agreed: the match weight (bits), the match probability and each
//! field's comparison level.
//!
//! Every decision is audited (action `link_review`): a refusal, or a
//! policy that cannot be evaluated, through `Broker::decide_audited`; an
//! allowed listing or resolution by an event appended *before* the queue
//! is shown or the pair is linked or kept apart, naming whom it is about
//! (the candidate person and the record's person, as internal ids). If
//! that append fails the request fails and nothing is shown or changed.

use std::sync::Arc;

use concord_audit::SubjectId;
use concord_linkage::Model;
use concord_pki::Identity;
use concord_policy::Action;
use concord_proto::v1::{self, linkage_server::Linkage as LinkageRpc};
use concord_store::{Review, ReviewStatus, ReviewView};
use tonic::{Request, Response, Status};

use crate::{
    Broker,
    audit::{self, policy_input},
    error::ServerError,
    identity::caller,
    linkage::LinkageError,
};

pub struct ReviewService {
    broker: Arc<Broker>,
}

impl ReviewService {
    pub fn new(broker: Arc<Broker>) -> Self {
        ReviewService { broker }
    }

    /// Asks the `link_review` policy; a refusal is audited and returned.
    async fn authorise(&self, who: &Identity) -> Result<concord_policy::Decision, ServerError> {
        let input = policy_input(who, Action::LinkReview, &[]);
        self.broker.decide_audited(who, input, |_| {}).await
    }

    /// Records an allowed listing or resolution, about the people of
    /// `reviews` (each pair's candidate and the record's person now),
    /// before it is answered or carried out.
    async fn record<'a>(
        &self,
        who: &Identity,
        decision: &concord_policy::Decision,
        reviews: impl IntoIterator<Item = &'a Review>,
    ) -> Result<(), ServerError> {
        let mut e = audit::event(who, concord_audit::Action::LinkReview, decision);
        for r in reviews {
            e.subjects.extend(
                u64::try_from(r.candidate_person)
                    .ok()
                    .map(SubjectId::Person),
            );
            e.subjects.extend(
                self.broker
                    .linkage
                    .person_of(r.record_id)
                    .map(SubjectId::Person),
            );
        }
        self.broker.audit.append(e).await.map(drop)
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
        let decision = self.authorise(&who).await?;
        let pending_only = !request.into_inner().include_resolved;
        let views = self
            .broker
            .store
            .review_views(pending_only)
            .await
            .map_err(ServerError::StoreRead)?;
        self.record(&who, &decision, views.iter().map(|v| &v.review))
            .await?;
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
        let decision = self.authorise(&who).await?;
        let req = request.into_inner();
        let store = &self.broker.store;
        let review = store
            .review(req.review_id)
            .await
            .map_err(ServerError::from)?
            .filter(|r| r.status == ReviewStatus::Pending);
        // Audited whether or not the id names a pending pair.
        self.record(&who, &decision, review.iter()).await?;
        let review = review.ok_or_else(|| {
            ServerError::NotFound(format!(
                "no pending review has id {}: it was resolved already or never existed \
                 (`concord review list` shows the pending ones)",
                req.review_id
            ))
        })?;
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
