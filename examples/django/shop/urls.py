"""URLs of the example."""

from django.urls import path

from partner import views

urlpatterns = [path("quote/<str:sku>/", views.quote)]
