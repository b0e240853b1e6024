"""URLs of the session views that django_runner.py serves (settings ROOT_URLCONF="djsuite_urls")."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path


def remember(request: HttpRequest) -> HttpResponse:
    request.session["api_token"] = request.GET["token"]
    request.session["user_note"] = "remembered"
    return HttpResponse("ok")


def recall(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"api_token": request.session.get("api_token")})


urlpatterns = [path("remember/", remember), path("recall/", recall)]
