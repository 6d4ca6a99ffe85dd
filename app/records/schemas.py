"""API shape of a candidate record."""

from datetime import datetime

from pydantic import BaseModel

from app.records.rules import CandidateRecord


class OutcomeRead(BaseModel):
    passed: bool
    decided_at: datetime
    source: str
    detail: str


class ModalityRead(BaseModel):
    modality: str
    label: str
    result: bool | None
    outcomes: list[OutcomeRead]


class CompetenceRead(BaseModel):
    code: str
    ref: str
    title: str
    state: str
    modalities: list[ModalityRead]


class BlocRead(BaseModel):
    code: str
    number: int
    title: str
    state: str
    competences: list[CompetenceRead]


class CandidateRecordRead(BaseModel):
    user_id: int
    certification: str
    validated_blocs: list[str]
    blocs: list[BlocRead]


def record_read(user_id: int, record: CandidateRecord) -> CandidateRecordRead:
    return CandidateRecordRead(
        user_id=user_id,
        certification=str(record.certification),
        validated_blocs=list(record.validated_blocs),
        blocs=[
            BlocRead(
                code=bloc.code,
                number=bloc.number,
                title=bloc.title,
                state=str(bloc.state),
                competences=[
                    CompetenceRead(
                        code=c.code,
                        ref=c.ref,
                        title=c.title,
                        state=str(c.state),
                        modalities=[
                            ModalityRead(
                                modality=m.modality,
                                label=m.label,
                                result=m.result,
                                outcomes=[
                                    OutcomeRead(
                                        passed=o.passed,
                                        decided_at=o.decided_at,
                                        source=o.source,
                                        detail=o.detail,
                                    )
                                    for o in m.outcomes
                                ],
                            )
                            for m in c.modalities
                        ],
                    )
                    for c in bloc.competences
                ],
            )
            for bloc in record.blocs
        ],
    )
