"""API shapes of the auth domain."""

from pydantic import BaseModel, ConfigDict, Field

from app.auth.roles import Role


class LoginRequest(BaseModel):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    login: str
    display_name: str
    role: Role


class LoginResponse(BaseModel):
    token: str = Field(description="Jeton de session, à envoyer en « Authorization: Bearer ».")
    csrf_token: str = Field(description="Jeton CSRF des requêtes authentifiées par cookie.")
    user: UserRead


class ErrorRead(BaseModel):
    detail: str
